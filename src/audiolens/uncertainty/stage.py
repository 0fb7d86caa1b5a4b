"""The uncertainty stage's analysis: three methods, two splits, tables, figures, abstention."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from audiolens.bootstrap import BootstrapSettings
from audiolens.errors import DataError, ParameterError
from audiolens.io import atomic_write_csv, atomic_write_json, atomic_write_text
from audiolens.uncertainty import figures
from audiolens.uncertainty.compare import (compare_methods, evidence_table, markdown_table, members_table,
                                           with_intervals)
from audiolens.uncertainty.decompose import summarise
from audiolens.uncertainty.gate import predictive
from audiolens.uncertainty.intervals import differences_sentence, method_intervals
from audiolens.uncertainty.mc_dropout import MCDropout
from audiolens.uncertainty.member_check import gate_evidence, member_metrics, outlier_members
from audiolens.uncertainty.selective import selective_summary, threshold_for_accuracy

__all__ = ["UncertaintySettings", "run", "HEADLINE_KEYS"]

log = logging.getLogger("audiolens.uncertainty")
HEADLINE_KEYS = ("accuracy", "nll", "brier", "ece", "ece_adaptive", "ece_debiased", "mce")


@dataclass(frozen=True, kw_only=True)
class UncertaintySettings:
    """How the three methods are compared and the gate is set (the ``uncertainty`` section).

    Attributes
    ----------
    mc_samples : int
        MC-dropout passes T.
    mc_layer : str or None
        Dropout layer MC sampling starts at (None: the first dropout layer).
    seed : int
        Seed of the dropout masks.
    ece_bins : int
        Equal-width confidence bins for ECE / MCE / reliability diagrams.
    batch_size : int
        Inference chunk size (examples).
    abstain_method : {"single", "mc_dropout", "ensemble"}
        Method the abstaining gate uses.
    abstain_score : {"max_prob", "entropy", "mutual_info", "std"}
        Score the gate thresholds (accept if max_prob >= threshold, else if score <= threshold).
    abstain_threshold : float
        The gate's threshold.
    abstain_target_accuracy : float
        Accuracy on accepted examples whose threshold is also reported.
    max_scatter_classes : int
        Panels in the mean-vs-std scatter.
    member_outlier_z : float
        A member whose validation NLL is more than this many robust SDs above the members'
        median is flagged (:func:`~audiolens.uncertainty.member_check.outlier_members`).
    bootstrap : BootstrapSettings or None
        95 % intervals over test recordings and paired method differences (None: none).
    """

    mc_samples: int
    mc_layer: str | None
    seed: int
    ece_bins: int
    batch_size: int
    abstain_method: str
    abstain_score: str
    abstain_threshold: float
    abstain_target_accuracy: float
    max_scatter_classes: int
    member_outlier_z: float
    bootstrap: BootstrapSettings | None


def _predict_all(models: Mapping[int, object], ensemble_ids: Sequence[int], x: np.ndarray, *,
                 mc: MCDropout, mc_samples: int, batch_size: int, timings: dict, split: str) -> dict:
    out = {}
    for method in ("single", "mc_dropout", "ensemble"):
        ms = [models[i] for i in ensemble_ids] if method == "ensemble" else [models[0]]
        t0 = time.perf_counter()
        out[method] = predictive(method, models=ms, x=x, mc_samples=mc_samples, mc=mc,
                                 mc_layer=mc.start.name, seed=mc.seed, batch_size=batch_size)
        timings[f"{split}_{method}_s"] = round(time.perf_counter() - t0, 3)
        log.info("%s %s: %d examples, %d samples, %.2f s", split, method, x.shape[0],
                 out[method].n_samples, timings[f"{split}_{method}_s"])
    return out


def _per_example(ids: Sequence[str], y: np.ndarray, preds: Mapping, class_names) -> pd.DataFrame:
    df = pd.DataFrame({"segment_id": list(ids), "label_index": y,
                       "label": [class_names[i] for i in y]})
    for name, p in preds.items():
        df[f"{name}_pred"] = p.predicted
        df[f"{name}_max_prob"] = p.max_prob.round(6)
        for score, vals in p.scores().items():
            if score != "max_prob":
                df[f"{name}_{score}"] = np.asarray(vals).round(6)
    return df


def run(*, models: Mapping[int, object], ensemble_ids: Sequence[int],
        splits: Mapping[str, tuple], out_dir: str | Path, class_names: Sequence[str],
        settings: UncertaintySettings) -> dict:
    """Compare single model / MC dropout / ensemble and write ``out_dir``.

    Parameters
    ----------
    models : {member id: keras.Model}
        Member 0 is the main model (used for ``single`` and ``mc_dropout``).
    ensemble_ids : sequence of int
        The members (keys of ``models``) forming the ensemble, in order.
    splits : {"val": (ids, x, y[, groups]), "test": (ids, x, y[, groups])}
        ``x`` (n, F, T, 1) dB (an array, or a lazily read :class:`~audiolens.shards.StoreRows` view, read one
        batch at a time), ``y`` (n,) class indices, ``groups`` (n,) the recording of each
        segment (the bootstrap's unit; default: each segment alone). Metrics and figures use
        ``test``; the abstention threshold is evaluated on ``val`` (``test`` when val is empty).
    out_dir : path
        Output folder.
    class_names : sequence of str
    settings : UncertaintySettings

    Writes
    ------
    ``comparison.json`` / ``comparison.md`` (all metrics, both splits, intervals, paired method
    differences, per-member metrics), ``metrics.json`` (headline with ``n``, ``n_recordings``,
    ``ci95`` per method, ``differences``, ``members``), ``headline.md`` (the comparison and
    warnings in words), ``vs_count.csv``, ``abstain.json`` (with each method's validation
    ``evidence`` at the gate's threshold), ``predictions_test.csv`` and figures.

    Returns
    -------
    dict
        The headline metrics.
    """
    out = Path(out_dir)
    s = settings
    mc_samples, seed, ece_bins = s.mc_samples, s.seed, s.ece_bins
    abstain_method, abstain_score, abstain_threshold = s.abstain_method, s.abstain_score, s.abstain_threshold
    abstain_target_accuracy = s.abstain_target_accuracy
    if 0 not in models:
        raise ParameterError("models: the main model (member 0) is needed for single / mc_dropout")
    missing = [i for i in ensemble_ids if i not in models]
    if missing or not ensemble_ids:
        raise ParameterError(f"ensemble members {missing or ensemble_ids} have no model")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    mc = MCDropout(models[0], start=s.mc_layer, seed=seed)
    timings["mc_split_s"] = round(time.perf_counter() - t0, 3)
    results, preds_by_split = {}, {}
    used = {k: v for k, v in splits.items() if len(v[2])}
    for k in set(splits) - set(used):
        log.warning("split %r is empty; skipped", k)
    if "test" not in used:
        raise DataError("the test split is empty: nothing to evaluate")
    # one prediction over all splits (each compiled function sees one batch shape)
    xs = [v[1] for v in used.values()]
    # lazily read views of the feature store stay lazy (read one batch at a time), arrays are joined
    x_all = type(xs[0]).concat(xs) if getattr(xs[0], "lazy_rows", False) else np.concatenate(xs)
    preds_all = _predict_all(models, ensemble_ids, x_all, mc=mc, mc_samples=mc_samples,
                             batch_size=s.batch_size, timings=timings, split="all")
    start, members = 0, {}
    for split, (ids, x, y, *_) in used.items():
        sl = slice(start, start + len(y))
        start = sl.stop
        preds = {m: summarise(p.samples[:, sl]) for m, p in preds_all.items()}
        preds_by_split[split] = (ids, y, preds)
        results[split] = compare_methods(preds, y, bins=ece_bins)
        members[split] = member_metrics(preds["ensemble"].samples, y, ensemble_ids, bins=ece_bins)
    ids, y, preds = preds_by_split["test"]
    groups = np.asarray(used["test"][3] if len(used["test"]) > 3 else ids).astype(str)
    ci, diffs = method_intervals(preds, results["test"]["methods"], y, groups, s.bootstrap, bins=ece_bins)
    with_intervals(results["test"], ci, diffs)
    cal_split = "val" if "val" in preds_by_split else "test"
    if cal_split == "test":
        log.warning("no validation examples: the abstention threshold is evaluated on test")

    # Abstention on the calibration split (and what it gives on test).
    abstain = {"method": abstain_method, "score": abstain_score, "threshold": abstain_threshold,
               "rule": "accept if max probability >= threshold" if abstain_score == "max_prob"
               else f"accept if {abstain_score} <= threshold",
               "members": list(ensemble_ids) if abstain_method == "ensemble" else [0],
               "mc_samples": mc_samples, "mc_layer": mc.start.name, "seed": seed, "batch_size": s.batch_size,
               "class_names": list(class_names), "calibrated_on": cal_split,
               "target_accuracy": abstain_target_accuracy}
    for split, (_, ys, ps) in preds_by_split.items():
        p = ps[abstain_method]
        abstain[split] = selective_summary(abstain_score, p.scores(), abstain_threshold, p.predicted == ys)
    _, ys, ps = preds_by_split[cal_split]
    p = ps[abstain_method]
    abstain["threshold_for_target"] = threshold_for_accuracy(abstain_score, p.scores(), p.predicted == ys,
                                                             abstain_target_accuracy)
    abstain["evidence"] = gate_evidence(ps, ys, score=abstain_score, threshold=abstain_threshold, bins=ece_bins)
    atomic_write_json(out / "abstain.json", abstain)
    outliers = outlier_members({r["member"]: r["nll"] for r in members[cal_split]}, z=s.member_outlier_z)
    warnings = [f"ensemble member {o['member']} is an outlier: its {cal_split} NLL {o['nll']:.3f} is "
                f"{o['z']:.1f} robust SDs above the members' median {o['median']:.3f}" for o in outliers]
    for w in warnings:
        log.warning("%s", w)
    test = results["test"]
    headline = {m: {k: r[k] for k in HEADLINE_KEYS} | {"aurc_max_prob": r["scores"]["max_prob"]["aurc"],
                                                       "auroc_max_prob": r["scores"]["max_prob"]["auroc"]}
                | ({"ci95": {k: v for k, v in ci[m].items() if k in HEADLINE_KEYS or k.endswith("_max_prob")}}
                   if ci.get(m) else {})
                for m, r in test["methods"].items()}
    headline["n"], headline["n_recordings"] = int(len(y)), int(len(np.unique(groups)))
    if diffs:
        headline["differences"] = diffs
    headline["abstain"] = {f"{cal_split}_coverage": abstain[cal_split]["coverage"],
                           f"{cal_split}_accuracy": abstain[cal_split]["selective_accuracy"],
                           "test_coverage": abstain["test"]["coverage"],
                           "test_accuracy": abstain["test"]["selective_accuracy"]}
    headline["ensemble_size"] = len(ensemble_ids)
    headline["mc_samples"] = mc_samples
    headline["members"] = {"n_outliers": len(outliers), "outliers": [o["member"] for o in outliers]}
    atomic_write_json(out / "metrics.json", headline)
    sentence = " ".join(t for t in [differences_sentence(diffs), *(f"WARNING: {w}." for w in warnings)] if t)
    if sentence:
        atomic_write_text(out / "headline.md", sentence + "\n")
    rows = [{"split": sp, "method": m, **r} for sp, res in results.items()
            for m, rs in res["vs_count"].items() for r in rs]
    atomic_write_csv(out / "vs_count.csv", pd.DataFrame(rows))
    atomic_write_csv(out / "predictions_test.csv", _per_example(ids, y, preds, class_names))

    labels = {"mc_dropout": "MC dropout (passes)", "ensemble": "ensemble (members)"}
    figures.uncertainty_histograms(preds, y, out / "hist_uncertainty.png")
    figures.reliability_diagrams(preds, y, out / "reliability.png", bins=ece_bins)
    figures.risk_coverage_curves(preds, y, out / "risk_coverage.png")
    for m in ("mc_dropout", "ensemble"):
        figures.mean_std_scatter(preds[m], y, out / f"scatter_{m}.png", class_names=class_names,
                                 max_classes=s.max_scatter_classes, title=f"{m}: mean vs std per class")
    figures.metrics_vs_count_figure(test["vs_count"], out / "vs_count.png", labels=labels)

    md = ["# Uncertainty: single model vs MC dropout vs deep ensemble", "",
          f"MC dropout from layer `{mc.start.name}` ({mc.n_tail_layers} tail layers), "
          f"T = {mc_samples}; ensemble of {len(ensemble_ids)} members {list(ensemble_ids)} "
          f"(0 = the main model).", ""]
    for split in results:
        n = len(preds_by_split[split][1])
        extra = f", {len(np.unique(groups))} recordings; [95 % interval]" if split == "test" and ci else ""
        md.append(markdown_table(results[split], title=f"{split} split (n = {n}{extra})"))
    if diffs:
        md += ["## Differences between methods", "", differences_sentence(diffs), ""]
    md += ["## Ensemble members alone", "", members_table(members), ""]
    md += [f"**WARNING**: {w}." for w in warnings] + ([""] if warnings else [])
    a = abstain[cal_split]
    md += ["## Abstention", "",
           f"`{abstain_method}` / {abstain['rule']} with threshold {abstain_threshold:g}: "
           f"coverage {a['coverage']:.3f}, accuracy on accepted "
           f"{'–' if a['selective_accuracy'] is None else format(a['selective_accuracy'], '.3f')} "
           f"({cal_split}); threshold reaching accuracy ≥ {abstain_target_accuracy:g}: "
           f"{abstain['threshold_for_target']}.", "",
           f"Why `{abstain_method}`: each method at the same score and threshold on {cal_split}:", "",
           evidence_table(abstain["evidence"], chosen=abstain_method), ""]
    atomic_write_text(out / "comparison.md", "\n".join(md))
    log.info("uncertainty timings (s): %s", timings)  # logged, not written: outputs reproduce
    atomic_write_json(out / "comparison.json", {"splits": results,
                                                "members": {**members, "outliers": outliers,
                                                            "outlier_z": s.member_outlier_z},
                                                "mc_layer": mc.start.name,
                                                "mc_tail_layers": mc.n_tail_layers})
    return headline
