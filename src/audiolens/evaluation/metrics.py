"""Classification metrics on segment and recording level, EER and FAR/FRR.

All functions take integer labels ``(n,)`` and class probabilities ``(n, K)`` (rows sum to 1)
and return plain JSON-able Python values.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

__all__ = ["classification_metrics", "class_report", "roc_auc", "roc_points", "eer",
           "far_frr", "aggregate_recordings"]


def roc_auc(y_true, probs) -> float | None:
    """ROC AUC: binary (score = P(class 1)) or macro one-vs-rest over the classes present.

    Classes with no positive (or no negative) test example are left out of the OvR
    average; ``None`` when no class qualifies.
    """
    y_true = np.asarray(y_true)
    probs = np.asarray(probs, dtype=float)
    k = probs.shape[1]
    if k == 2:
        return float(skm.roc_auc_score(y_true, probs[:, 1])) if len(np.unique(y_true)) == 2 else None
    present = [c for c in range(k) if 0 < (y_true == c).sum() < len(y_true)]
    if not present:
        return None
    if len(present) == k:
        return float(skm.roc_auc_score(y_true, probs, multi_class="ovr", average="macro",
                                       labels=list(range(k))))
    return float(np.mean([skm.roc_auc_score(y_true == c, probs[:, c]) for c in present]))


def classification_metrics(y_true, probs, *, y_pred=None) -> dict:
    """Accuracy, balanced accuracy, macro/weighted precision/recall/F1 and ROC AUC.

    Parameters
    ----------
    y_true : (n,) int
    probs : (n, K) float
    y_pred : (n,) int, optional
        Defaults to ``argmax(probs)``.
    """
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=float)
    y_pred = probs.argmax(axis=1) if y_pred is None else np.asarray(y_pred, dtype=int)
    labels = list(range(probs.shape[1]))
    out = {"n": int(len(y_true)), "accuracy": float(skm.accuracy_score(y_true, y_pred)),
           "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred))}
    for avg in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg,
                                                         zero_division=0)
        out.update({f"precision_{avg}": float(p), f"recall_{avg}": float(r), f"f1_{avg}": float(f)})
    out["roc_auc"] = roc_auc(y_true, probs)
    return out


def class_report(y_true, y_pred, class_names: list[str]) -> dict:
    """Per-class precision/recall/F1/support (scikit-learn's report as a dict)."""
    return skm.classification_report(y_true, y_pred, labels=list(range(len(class_names))),
                                      target_names=list(class_names), output_dict=True, zero_division=0)


def roc_points(y_true, probs) -> pd.DataFrame:
    """ROC curve points ``fpr, tpr, threshold``: binary (class 1) or micro-averaged one-vs-rest."""
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if probs.shape[1] == 2:
        truth, score = y_true == 1, probs[:, 1]
    else:
        truth = (y_true[:, None] == np.arange(probs.shape[1])[None, :]).ravel()
        score = probs.ravel()
    if truth.all() or not truth.any():
        return pd.DataFrame(columns=["fpr", "tpr", "threshold"])
    fpr, tpr, thr = skm.roc_curve(truth, score, drop_intermediate=True)
    thr = np.minimum(thr, 1.0)  # sklearn's first threshold is +inf
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr})


def far_frr(scores, is_positive, threshold: float) -> tuple[float, float]:
    """False acceptance and false rejection rates at ``threshold`` (accept when score >= threshold).

    FAR = accepted negatives / negatives; FRR = rejected positives / positives.
    """
    scores = np.asarray(scores, dtype=float)
    pos = np.asarray(is_positive, dtype=bool)
    if pos.all() or not pos.any():
        raise ValueError("FAR/FRR need both positive and negative examples")
    accept = scores >= threshold
    return float(accept[~pos].mean()), float((~accept[pos]).mean())


def eer(scores, is_positive) -> tuple[float, float]:
    """Equal error rate and the threshold where FAR = FRR (linear interpolation on the ROC).

    Returns
    -------
    eer : float
        In [0, 1].
    threshold : float
        Score threshold at the crossing.
    """
    scores = np.asarray(scores, dtype=float)
    pos = np.asarray(is_positive, dtype=bool)
    if pos.all() or not pos.any():
        raise ValueError("EER needs both positive and negative examples")
    fpr, tpr, thr = skm.roc_curve(pos, scores, drop_intermediate=False)
    frr = 1.0 - tpr
    diff = fpr - frr  # increases from -1 to +1 along the curve (threshold decreasing)
    i = int(np.flatnonzero(diff >= 0)[0])
    if diff[i] == 0 or i == 0:
        return float(fpr[i]), float(min(thr[i], 1.0))
    # crossing between points i-1 (diff < 0) and i (diff > 0)
    w = -diff[i - 1] / (diff[i] - diff[i - 1])
    e = fpr[i - 1] + w * (fpr[i] - fpr[i - 1])
    t = thr[i - 1] + w * (min(thr[i], 1.0) - thr[i - 1]) if np.isfinite(thr[i - 1]) else thr[i]
    return float(e), float(t)


def aggregate_recordings(recording_ids, probs, *, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recording-level decisions from segment probabilities.

    Parameters
    ----------
    recording_ids : (n,) str
    probs : (n, K) float
    method : {"mean_prob", "majority_vote"}
        ``mean_prob``: argmax of the mean probability; ``majority_vote``: most frequent
        segment prediction (ties broken by the higher mean probability).

    Returns
    -------
    ids : (R,) recording ids, sorted
    rec_probs : (R, K) mean probabilities (vote fractions for ``majority_vote``)
    rec_pred : (R,) int
    """
    probs = np.asarray(probs, dtype=float)
    ids, inv = np.unique(np.asarray(recording_ids).astype(str), return_inverse=True)
    k = probs.shape[1]
    mean = np.zeros((len(ids), k))
    np.add.at(mean, inv, probs)
    counts = np.bincount(inv, minlength=len(ids))[:, None]
    mean /= counts
    if method == "mean_prob":
        return ids, mean, mean.argmax(axis=1)
    if method != "majority_vote":
        raise ValueError(f"unknown aggregation {method!r} (mean_prob, majority_vote)")
    votes = np.zeros((len(ids), k))
    np.add.at(votes, (inv, probs.argmax(axis=1)), 1.0)
    pred = np.array([np.flatnonzero(v == v.max())[np.argmax(m[v == v.max()])] for v, m in zip(votes, mean)])
    return ids, votes / counts, pred
