"""95 % intervals of the uncertainty metrics and paired differences between the methods.

Single model, MC dropout and ensemble are scored on the same test segments, so every method
is resampled with the same recordings (:class:`audiolens.bootstrap.GroupBootstrap`) and a
comparison is the interval of the per-resample difference: "not distinguishable" when it
spans 0.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from audiolens.bootstrap import BootstrapSettings, GroupBootstrap, auroc, ci_block, difference, plan
from audiolens.uncertainty.decompose import EPS, Predictive
from audiolens.uncertainty.metrics import aurc, ece_debiased, ece_mce

__all__ = ["CI_KEYS", "PAIRS", "method_distributions", "method_intervals", "point_values",
           "differences_sentence"]

# metrics with an interval per method (scores: every uncertainty score of the method)
CI_KEYS = ("accuracy", "nll", "brier", "ece", "ece_debiased")
# compared pairs (A, B): the difference A - B
PAIRS = (("ensemble", "single"), ("mc_dropout", "single"), ("ensemble", "mc_dropout"))
DIFF_KEYS = ("accuracy", "nll", "brier", "ece_debiased", "auroc_max_prob", "aurc_max_prob")
# which direction is better, for the sentence
LOWER_IS_BETTER = {"nll", "brier", "ece", "ece_debiased", "aurc_max_prob"}


def _aurc(score, wrong):
    return aurc(score, wrong)["aurc"]


def method_distributions(boot: GroupBootstrap, pred: Predictive, y: np.ndarray, *,
                         bins: int) -> dict[str, np.ndarray]:
    """Resampled values ``(B,)`` of :data:`CI_KEYS` and ``auroc_<score>`` / ``aurc_<score>`` per score."""
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(pred.mean, dtype=np.float64)
    wrong = pred.predicted != y
    onehot = np.eye(p.shape[1])[y]
    dists = {"accuracy": boot.mean(~wrong),
             "nll": boot.mean(-np.log(np.maximum(p[np.arange(len(y)), y], EPS))),
             "brier": boot.mean(((p - onehot) ** 2).sum(axis=1)),
             "ece": boot.apply(lambda pp, yy: ece_mce(pp, yy, bins=bins)[0], p, y),
             "ece_debiased": boot.apply(lambda pp, yy: ece_debiased(pp, yy, bins=bins), p, y)}
    for name, score in pred.scores().items():
        s = np.asarray(score, dtype=np.float64)
        dists[f"auroc_{name}"] = boot.apply(auroc, s, wrong)
        dists[f"aurc_{name}"] = boot.apply(_aurc, s, wrong)
    return dists


def point_values(report: Mapping) -> dict[str, float | None]:
    """The point estimates matching :func:`method_distributions`' keys, from a
    :func:`~audiolens.uncertainty.compare.method_report`."""
    out = {k: report.get(k) for k in CI_KEYS}
    for name, s in report["scores"].items():
        out[f"auroc_{name}"], out[f"aurc_{name}"] = s.get("auroc"), s.get("aurc")
    return out


def method_intervals(preds: Mapping[str, Predictive], reports: Mapping[str, Mapping], y, groups,
                     settings: BootstrapSettings | None, *, bins: int) -> tuple[dict, dict]:
    """Per-method intervals and paired differences on one split.

    Parameters
    ----------
    preds : {method: Predictive}
    reports : {method: method_report dict} (the point estimates)
    y : (n,) int
    groups : (n,) recording of each segment
    settings : BootstrapSettings or None (None / 0 resamples: ``({}, {})``)
    bins : int
        ECE bins.

    Returns
    -------
    ci : dict
        ``{method: {metric: {"lo", "hi"}}}`` (metrics: :data:`CI_KEYS`, ``auroc_<score>``,
        ``aurc_<score>``).
    diffs : dict
        ``{"<a>_minus_<b>": {metric: {diff, lo, hi, distinguishable}}}`` for :data:`PAIRS` present,
        metrics :data:`DIFF_KEYS`.
    """
    boot = plan(groups, settings)
    if boot is None:
        return {}, {}
    dists = {m: method_distributions(boot, p, y, bins=bins) for m, p in preds.items()}
    points = {m: point_values(reports[m]) for m in preds}
    ci = {m: ci_block(d) for m, d in dists.items()}
    diffs = {}
    for a, b in PAIRS:
        if a in dists and b in dists:
            diffs[f"{a}_minus_{b}"] = {k: difference(points[a].get(k), points[b].get(k), dists[a][k], dists[b][k])
                                       for k in DIFF_KEYS if k in dists[a] and k in dists[b]}
    return ci, diffs


def differences_sentence(diffs: Mapping[str, Mapping]) -> str:
    """Plain words for the paired differences: which are distinguishable, which are not."""
    if not diffs:
        return ""
    parts = []
    for pair, d in diffs.items():
        a, b = pair.split("_minus_")
        told, untold = [], []
        for key, v in d.items():
            if v.get("diff") is None or v.get("lo") is None:
                continue
            if v["distinguishable"]:
                better = (v["diff"] < 0) == (key in LOWER_IS_BETTER)
                told.append(f"{key} {v['diff']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}], "
                            f"{a if better else b} better")
            else:
                untold.append(key)
        text = f"{a} vs {b}: "
        text += "; ".join(told) if told else "no distinguishable difference"
        if untold and told:
            text += f"; not distinguishable: {', '.join(untold)}"
        elif untold:
            text += f" ({', '.join(untold)}: every 95 % interval spans 0)"
        parts.append(text)
    return "Method comparison (paired bootstrap over test recordings): " + ". ".join(parts) + "."
