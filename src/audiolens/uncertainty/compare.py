"""Compare prediction methods (single model, MC dropout, deep ensemble) on one labelled split."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from audiolens.uncertainty.decompose import Predictive
from audiolens.uncertainty.metrics import (aurc, classification_metrics, misclassification_auc,
                                           reliability)

__all__ = ["method_report", "metrics_vs_count", "compare_methods", "with_intervals", "markdown_table",
           "members_table", "evidence_table"]

SCORE_LABELS = {"max_prob": "1 - max prob", "entropy": "predictive entropy",
                "mutual_info": "mutual information", "std": "std of predicted class"}


def method_report(pred: Predictive, y: np.ndarray, *, bins: int = 15) -> dict:
    """All metrics of one method.

    Returns
    -------
    dict
        ``accuracy, nll, brier, ece, mce`` of the mean prediction, ``n``, ``n_samples``,
        mean ``predictive_entropy`` / ``expected_entropy`` / ``mutual_info`` (nats),
        ``scores``: per uncertainty score ``auroc, auprc`` (misclassification detection),
        ``aurc, eaurc``; ``reliability``: the bin table.
    """
    y = np.asarray(y)
    out = classification_metrics(pred.mean, y, bins=bins)
    wrong = pred.predicted != y
    out.update(n=int(y.size), n_wrong=int(wrong.sum()), n_samples=pred.n_samples,
               predictive_entropy=float(pred.predictive_entropy.mean()),
               expected_entropy=float(pred.expected_entropy.mean()),
               mutual_info=float(pred.mutual_info.mean()))
    out["scores"] = {name: {**misclassification_auc(s, wrong), **aurc(s, wrong)}
                     for name, s in pred.scores().items()}
    out["reliability"] = reliability(pred.mean, y, bins=bins)
    return out


def metrics_vs_count(samples: np.ndarray, y: np.ndarray, *, bins: int = 15) -> list[dict]:
    """Accuracy / NLL / Brier / ECE of the mean of the first ``s`` samples, ``s = 1..S``.

    Parameters
    ----------
    samples : (S, n, C)
        MC passes or ensemble members, in order.
    """
    samples = np.asarray(samples, dtype=np.float64)
    csum = np.cumsum(samples, axis=0)
    rows = []
    for s in range(samples.shape[0]):
        m = classification_metrics(csum[s] / (s + 1), y, bins=bins)
        rows.append({"count": s + 1, **m})
    return rows


def compare_methods(preds: Mapping[str, Predictive], y: np.ndarray, *, bins: int = 15) -> dict:
    """:func:`method_report` for each method and :func:`metrics_vs_count` for stochastic ones."""
    out = {"methods": {}, "vs_count": {}}
    for name, pred in preds.items():
        out["methods"][name] = method_report(pred, y, bins=bins)
        if pred.n_samples > 1:
            out["vs_count"][name] = metrics_vs_count(pred.samples, y, bins=bins)
    return out


def with_intervals(comparison: dict, ci: dict, diffs: dict) -> dict:
    """Put :func:`~audiolens.uncertainty.intervals.method_intervals` results into a comparison (in place).

    Each method gets ``ci95`` (``{metric: {"lo", "hi"}}``), each score ``ci95`` of ``auroc`` and
    ``aurc``; the comparison gets ``differences``. Nothing changes when ``ci`` is empty.
    """
    for name, m in comparison["methods"].items():
        block = ci.get(name) or {}
        if not block:
            continue
        m["ci95"] = {k: v for k, v in block.items() if not k.startswith(("auroc_", "aurc_"))}
        for score, sc in m["scores"].items():
            sc["ci95"] = {k: block[f"{k}_{score}"] for k in ("auroc", "aurc") if f"{k}_{score}" in block}
    if diffs:
        comparison["differences"] = diffs
    return comparison


def _fmt(v, ci: dict | None = None) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" + (f" [{ci['lo']:.3f}, {ci['hi']:.3f}]" if ci else "")


def markdown_table(comparison: dict, *, title: str = "") -> str:
    """Two markdown tables: calibration per method, and misclassification detection per score
    (with ``[95 % interval]`` beside a value when the comparison has intervals)."""
    methods = comparison["methods"]
    lines = [f"### {title}" if title else "", "",
             "| method | samples | accuracy | NLL | Brier | ECE | ECE (debiased) | ECE (adaptive) | MCE | mean MI |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in methods.items():
        c = m.get("ci95", {})
        lines.append(f"| {name} | {m['n_samples']} | {_fmt(m['accuracy'], c.get('accuracy'))} | "
                     f"{_fmt(m['nll'], c.get('nll'))} | {_fmt(m['brier'], c.get('brier'))} | "
                     f"{_fmt(m['ece'], c.get('ece'))} | {_fmt(m.get('ece_debiased'), c.get('ece_debiased'))} | "
                     f"{_fmt(m.get('ece_adaptive'))} | {_fmt(m['mce'])} | {_fmt(m['mutual_info'])} |")
    lines += ["", "| method | score | AUROC (wrong) | AUPRC (wrong) | AURC | E-AURC |",
              "|---|---|---:|---:|---:|---:|"]
    for name, m in methods.items():
        for score, s in m["scores"].items():
            c = s.get("ci95", {})
            lines.append(f"| {name} | {SCORE_LABELS.get(score, score)} | {_fmt(s['auroc'], c.get('auroc'))} | "
                         f"{_fmt(s['auprc'])} | {_fmt(s['aurc'], c.get('aurc'))} | {_fmt(s['eaurc'])} |")
    return "\n".join(lines).lstrip("\n") + "\n"


def members_table(members: dict) -> str:
    """Markdown: accuracy / NLL / ECE of each ensemble member alone, per split (``{split: rows}``)."""
    lines = ["| split | member | accuracy | NLL | ECE | ECE (debiased) |", "|---|---:|---:|---:|---:|---:|"]
    for split, rows in members.items():
        for r in rows:
            lines.append(f"| {split} | {r['member']} | {_fmt(r['accuracy'])} | {_fmt(r['nll'])} | "
                         f"{_fmt(r['ece'])} | {_fmt(r['ece_debiased'])} |")
    return "\n".join(lines) + "\n"


def evidence_table(evidence: dict, *, chosen: str) -> str:
    """Markdown: each method's coverage / accuracy on accepted / NLL at the gate's threshold."""
    lines = ["| method | coverage | accuracy on accepted | accuracy (all) | NLL | ECE (debiased) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, e in evidence.items():
        mark = f"**{name}** (used)" if name == chosen else name
        lines.append(f"| {mark} | {_fmt(e['coverage'])} | {_fmt(e['selective_accuracy'])} | "
                     f"{_fmt(e['accuracy'])} | {_fmt(e['nll'])} | {_fmt(e['ece_debiased'])} |")
    return "\n".join(lines) + "\n"

