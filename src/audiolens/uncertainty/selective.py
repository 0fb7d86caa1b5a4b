"""Abstention: accept a prediction only when an uncertainty score is on the certain side.

Scores follow the :meth:`Predictive.scores` convention (higher = less certain), except
that thresholds on ``max_prob`` are given as the *probability* itself (accept when the
predicted class has probability >= threshold), which is how users think of it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SCORES", "accept_mask", "selective_summary", "threshold_for_accuracy"]

SCORES = ("max_prob", "entropy", "mutual_info", "std")


def _raw(score: str, scores: dict[str, np.ndarray]) -> tuple[np.ndarray, bool]:
    """The user-facing score values and whether *higher* means more certain."""
    if score not in SCORES:
        raise ValueError(f"unknown abstention score {score!r} (allowed: {', '.join(SCORES)})")
    if score not in scores:
        raise ValueError(f"score {score!r} is not available for this method "
                         f"(available: {', '.join(scores)})")
    if score == "max_prob":
        return 1.0 - np.asarray(scores[score], dtype=np.float64), True
    return np.asarray(scores[score], dtype=np.float64), False


def accept_mask(score: str, scores: dict[str, np.ndarray], threshold: float) -> np.ndarray:
    """Boolean ``(n,)``: True where the prediction is accepted.

    ``max_prob``: accept when max probability >= threshold; the others (entropy in
    nats, mutual information in nats, std of the predicted class): accept when the
    score <= threshold.
    """
    raw, higher_certain = _raw(score, scores)
    return raw >= threshold if higher_certain else raw <= threshold


def selective_summary(score: str, scores: dict[str, np.ndarray], threshold: float,
                      correct: np.ndarray) -> dict[str, float | int | None]:
    """Coverage and accuracy of the accepted predictions at ``threshold``.

    Returns
    -------
    dict
        ``coverage`` (fraction accepted), ``accepted`` (count), ``n``,
        ``selective_accuracy`` (accuracy on the accepted; ``None`` if none accepted),
        ``accuracy_all`` (without abstention).
    """
    keep = accept_mask(score, scores, threshold)
    correct = np.asarray(correct, dtype=bool)
    if keep.shape != correct.shape:
        raise ValueError(f"scores ({keep.shape}) and correct ({correct.shape}) differ in shape")
    k = int(keep.sum())
    return {"threshold": float(threshold), "n": int(keep.size), "accepted": k,
            "coverage": k / keep.size if keep.size else 0.0,
            "selective_accuracy": float(correct[keep].mean()) if k else None,
            "accuracy_all": float(correct.mean()) if keep.size else None}


def threshold_for_accuracy(score: str, scores: dict[str, np.ndarray], correct: np.ndarray,
                           target: float) -> float | None:
    """The threshold with the largest coverage whose selective accuracy is >= ``target``.

    Returns ``None`` when no non-empty accepted set reaches the target.
    """
    raw, higher_certain = _raw(score, scores)
    correct = np.asarray(correct, dtype=np.float64)
    order = np.argsort(-raw if higher_certain else raw, kind="stable")
    r, c = raw[order], correct[order]
    last = np.r_[r[1:] != r[:-1], True]  # tied values are accepted together
    acc = (np.cumsum(c) / np.arange(1, c.size + 1))[last]
    ok = np.flatnonzero(acc >= target)
    return float(r[last][ok[-1]]) if ok.size else None
