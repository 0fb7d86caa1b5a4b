"""Each ensemble member alone, the outlier rule, and the gate's validation evidence.

An ensemble can hide a weak member: its mean looks fine while one member drags NLL up. Every
member is scored alone (accuracy, NLL, ECE) on validation and test, and a member is flagged
when its *validation* NLL is far above the others' (:func:`outlier_members`).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from audiolens.uncertainty.decompose import Predictive
from audiolens.uncertainty.metrics import accuracy, ece_debiased, ece_mce, nll
from audiolens.uncertainty.selective import SCORES, selective_summary

__all__ = ["MAD_SCALE", "SPREAD_FLOOR", "member_metrics", "outlier_members", "gate_evidence"]

MAD_SCALE = 1.4826  # MAD -> standard deviation for normal data
SPREAD_FLOOR = 0.05  # the robust SD is at least this fraction of the median (near-identical members)


def member_metrics(samples: np.ndarray, y: np.ndarray, member_ids: Sequence[int], *, bins: int) -> list[dict]:
    """Accuracy, NLL, ECE and debiased ECE of each member's own prediction.

    Parameters
    ----------
    samples : (S, n, C)
        The ensemble's member predictions, in ``member_ids`` order.
    y : (n,) int
    member_ids : sequence of int (S)
    bins : int
        ECE bins.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.shape[0] != len(member_ids):
        raise ValueError(f"{samples.shape[0]} member predictions for {len(member_ids)} member ids")
    return [{"member": int(i), "accuracy": accuracy(p, y), "nll": nll(p, y),
             "ece": ece_mce(p, y, bins=bins)[0], "ece_debiased": ece_debiased(p, y, bins=bins)}
            for i, p in zip(member_ids, samples)]


def outlier_members(val_nll: Mapping[int, float], *, z: float) -> list[dict]:
    """Members whose validation NLL is more than ``z`` robust SDs above the members' median.

    Rule: ``nll_i - median > z * s`` with ``s = max(1.4826 * MAD, 0.05 * median)`` (MAD: median
    absolute deviation from the median; the floor keeps near-identical members from being
    flagged for a tiny excess). Needs at least 3 members (fewer: nothing is flagged).

    Returns
    -------
    list of dict
        ``member``, ``nll``, ``median``, ``robust_sd``, ``z`` (how many robust SDs above), sorted
        by member id.
    """
    if len(val_nll) < 3:
        return []
    ids = sorted(val_nll)
    v = np.array([val_nll[i] for i in ids], dtype=np.float64)
    med = float(np.median(v))
    sd = max(MAD_SCALE * float(np.median(np.abs(v - med))), SPREAD_FLOOR * abs(med))
    if sd <= 0:
        return []
    return [{"member": int(i), "nll": float(x), "median": med, "robust_sd": sd, "z": float((x - med) / sd)}
            for i, x in zip(ids, v) if x - med > z * sd]


def gate_evidence(preds: Mapping[str, Predictive], y: np.ndarray, *, score: str, threshold: float,
                  bins: int) -> dict[str, dict]:
    """What each method would give at the gate's score and threshold on one split (validation).

    Returns
    -------
    dict
        ``{method: {coverage, selective_accuracy, accepted, n, accuracy, nll, ece_debiased}}``;
        a method without the score (``mutual_info`` / ``std`` of a single model) gets only its
        overall figures and ``coverage: None``.
    """
    if score not in SCORES:
        raise ValueError(f"unknown abstention score {score!r}")
    y = np.asarray(y)
    out = {}
    for method, p in preds.items():
        row = {"accuracy": accuracy(p.mean, y), "nll": nll(p.mean, y),
               "ece_debiased": ece_debiased(p.mean, y, bins=bins)}
        scores = p.scores()
        if score in scores:
            s = selective_summary(score, scores, threshold, p.predicted == y)
            row.update(coverage=s["coverage"], selective_accuracy=s["selective_accuracy"], accepted=s["accepted"],
                       n=s["n"])
        else:
            row.update(coverage=None, selective_accuracy=None, accepted=None, n=int(y.size))
        out[method] = row
    return out
