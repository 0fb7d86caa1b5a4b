"""Compare prediction methods (single model, MC dropout, deep ensemble) on one labelled split."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from audiolens.uncertainty.decompose import Predictive
from audiolens.uncertainty.metrics import (aurc, classification_metrics, misclassification_auc,
                                           reliability)

__all__ = ["method_report", "metrics_vs_count", "compare_methods", "markdown_table"]

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


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def markdown_table(comparison: dict, *, title: str = "") -> str:
    """Two markdown tables: calibration per method, and misclassification detection per score."""
    methods = comparison["methods"]
    lines = [f"### {title}" if title else "", "",
             "| method | samples | accuracy | NLL | Brier | ECE | MCE | mean MI |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in methods.items():
        lines.append(f"| {name} | {m['n_samples']} | {_fmt(m['accuracy'])} | {_fmt(m['nll'])} | "
                     f"{_fmt(m['brier'])} | {_fmt(m['ece'])} | {_fmt(m['mce'])} | {_fmt(m['mutual_info'])} |")
    lines += ["", "| method | score | AUROC (wrong) | AUPRC (wrong) | AURC | E-AURC |",
              "|---|---|---:|---:|---:|---:|"]
    for name, m in methods.items():
        for score, s in m["scores"].items():
            lines.append(f"| {name} | {SCORE_LABELS.get(score, score)} | {_fmt(s['auroc'])} | "
                         f"{_fmt(s['auprc'])} | {_fmt(s['aurc'])} | {_fmt(s['eaurc'])} |")
    return "\n".join(lines).lstrip("\n") + "\n"

