"""Calibration and selective-prediction metrics of probabilistic classifiers.

Conventions: ``probs`` is ``(n, C)`` (rows sum to 1), ``y`` is ``(n,)`` integer class
indices, an uncertainty ``score`` is ``(n,)`` with **higher = less certain**.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from audiolens.uncertainty.decompose import EPS

__all__ = ["accuracy", "nll", "brier", "reliability", "ece_mce", "ece_adaptive", "ece_debiased",
           "misclassification_auc", "risk_coverage", "aurc", "classification_metrics"]


def _check(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    if p.ndim != 2 or y.shape != (p.shape[0],):
        raise ValueError(f"probs must be (n, C) and y (n,), got {p.shape} and {y.shape}")
    if p.shape[0] == 0:
        raise ValueError("no examples")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"labels must lie in 0..{p.shape[1] - 1}, got {y.min()}..{y.max()}")
    return p, y.astype(np.int64)


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    """Fraction of examples whose arg-max class is the label."""
    p, y = _check(probs, y)
    return float(np.mean(p.argmax(1) == y))


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood ``-mean log p[y]`` (nats; probabilities floored at 1e-12)."""
    p, y = _check(probs, y)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], EPS))))


def brier(probs: np.ndarray, y: np.ndarray) -> float:
    """Multi-class Brier score ``mean_i sum_c (p_ic - 1[y_i = c])^2`` (range 0..2)."""
    p, y = _check(probs, y)
    onehot = np.eye(p.shape[1])[y]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def reliability(probs: np.ndarray, y: np.ndarray, *, bins: int = 15) -> dict[str, list]:
    """Reliability-diagram data with ``bins`` equal-width confidence bins on [0, 1].

    Bin ``b`` holds confidences in ``(b/B, (b+1)/B]`` (the first bin also holds 0).

    Returns
    -------
    dict
        ``edges`` (B+1), and per bin ``count``, ``confidence`` (mean max prob),
        ``accuracy`` (``None`` for empty bins in the last two).
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    p, y = _check(probs, y)
    conf = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    idx = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    csum = np.bincount(idx, weights=conf, minlength=bins)
    asum = np.bincount(idx, weights=correct, minlength=bins)
    nz = count > 0
    return {"edges": np.linspace(0.0, 1.0, bins + 1).tolist(),
            "count": count.tolist(),
            "confidence": [float(c / k) if k else None for c, k in zip(csum, count)],
            "accuracy": [float(a / k) if k else None for a, k in zip(asum, count)],
            "gap": [float(abs(a - c) / k) if k else None for a, c, k in zip(asum, csum, count)],
            "n_nonempty": int(nz.sum())}


def ece_mce(probs: np.ndarray, y: np.ndarray, *, bins: int = 15) -> tuple[float, float]:
    """Expected and maximum calibration error over equal-width confidence bins.

    ``ECE = sum_b (n_b / n) |acc_b - conf_b|``, ``MCE = max_b |acc_b - conf_b|`` over
    non-empty bins.
    """
    rel = reliability(probs, y, bins=bins)
    n = sum(rel["count"])
    gaps = [(k, g) for k, g in zip(rel["count"], rel["gap"]) if k]
    ece = sum(k * g for k, g in gaps) / n
    return float(ece), float(max(g for _, g in gaps))


def _equal_mass(probs: np.ndarray, y: np.ndarray, bins: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(confidence, correct) of ``min(bins, n)`` equal-mass bins of the sorted confidences."""
    p, y = _check(probs, y)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    conf = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    order = np.argsort(conf, kind="stable")
    return [(conf[i], correct[i]) for i in np.array_split(order, min(bins, conf.size))]


def ece_adaptive(probs: np.ndarray, y: np.ndarray, *, bins: int = 15) -> float:
    """ECE over equal-mass bins (adaptive binning; Nixon et al. 2019).

    The sorted confidences are cut into ``min(bins, n)`` bins of (nearly) equal count, so no
    bin holds a single example while others hold most: ``sum_b (n_b / n) |acc_b - conf_b|``.
    """
    parts = _equal_mass(probs, y, bins)
    n = sum(len(c) for c, _ in parts)
    return float(sum(len(c) * abs(a.mean() - c.mean()) for c, a in parts) / n)


def ece_debiased(probs: np.ndarray, y: np.ndarray, *, bins: int = 15) -> float:
    """Debiased L2 calibration error over equal-mass bins (Kumar et al. 2019, "Verified
    uncertainty calibration").

    The plug-in squared gap of a bin, ``(acc_b - conf_b)^2``, overestimates the true one by the
    sampling variance of ``acc_b``; this subtracts its unbiased estimate
    ``acc_b (1 - acc_b) / (n_b - 1)``:

    ``sqrt(max(0, sum_b (n_b / n) [(acc_b - conf_b)^2 - acc_b (1 - acc_b) / (n_b - 1)]))``.

    Bins are at most ``n // 2`` so that every bin has ``n_b >= 2``. On a perfectly
    calibrated model it is near 0 even at small n, where the classic ECE is not (it grows
    like ``1 / sqrt(n_b)``), so models with spread-out confidences are not penalised for it.
    Units: probability (like ECE; it is an L2, not an L1, average of the gaps).
    """
    p, _ = _check(probs, y)
    parts = _equal_mass(probs, y, max(1, min(bins, p.shape[0] // 2)))
    n = sum(len(c) for c, _ in parts)
    total = 0.0
    for c, a in parts:
        acc, k = a.mean(), len(c)
        total += k * ((acc - c.mean()) ** 2 - (acc * (1 - acc) / (k - 1) if k > 1 else 0.0))
    return float(np.sqrt(max(0.0, total / n)))


def misclassification_auc(score: np.ndarray, wrong: np.ndarray) -> dict[str, float | None]:
    """How well an uncertainty score separates wrong from correct predictions.

    Parameters
    ----------
    score : (n,)
        Higher = less certain.
    wrong : (n,) bool
        True where the prediction is wrong (the positive class).

    Returns
    -------
    dict
        ``auroc`` and ``auprc`` (average precision); ``None`` when only one class
        (all right or all wrong) is present.
    """
    s = np.asarray(score, dtype=np.float64)
    w = np.asarray(wrong, dtype=bool)
    if s.shape != w.shape:
        raise ValueError(f"score {s.shape} and wrong {w.shape} differ in shape")
    if w.all() or not w.any():
        return {"auroc": None, "auprc": None}
    return {"auroc": float(roc_auc_score(w, s)), "auprc": float(average_precision_score(w, s))}


def risk_coverage(score: np.ndarray, wrong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Risk–coverage curve of selective prediction (keep the most certain first).

    Ties in ``score`` are kept or dropped together (the curve has one point per
    distinct score value), so the result does not depend on the example order.

    Returns
    -------
    coverage : (k,)
        Fraction of examples kept, increasing to 1.
    risk : (k,)
        Error rate among the kept examples.
    """
    s = np.asarray(score, dtype=np.float64)
    w = np.asarray(wrong, dtype=np.float64)
    if s.shape != w.shape or s.ndim != 1 or s.size == 0:
        raise ValueError(f"score and wrong must be equal-length 1-D arrays, got {s.shape}, {w.shape}")
    order = np.argsort(s, kind="stable")
    s, w = s[order], w[order]
    last = np.r_[s[1:] != s[:-1], True]  # last index of each distinct score value
    kept = np.arange(1, s.size + 1)[last]
    errors = np.cumsum(w)[last]
    return kept / s.size, errors / kept


def aurc(score: np.ndarray, wrong: np.ndarray) -> dict[str, float]:
    """Area under the risk–coverage curve and its excess over the best possible ranking.

    ``aurc`` averages the selective risk over every coverage ``k/n`` (tied scores
    share their group's risk); ``eaurc = aurc - aurc_optimal`` where the optimal
    ranking puts all errors last.
    """
    s = np.asarray(score, dtype=np.float64)
    w = np.asarray(wrong, dtype=np.float64)
    cov, risk = risk_coverage(s, w)
    n = s.size
    counts = np.diff(np.r_[0, np.round(cov * n).astype(np.int64)])
    area = float(np.sum(counts * risk) / n)
    n_err = int(w.sum())
    k = np.arange(1, n + 1)
    opt = float(np.mean(np.maximum(0, k - (n - n_err)) / k))
    return {"aurc": area, "eaurc": area - opt}


def classification_metrics(probs: np.ndarray, y: np.ndarray, *, bins: int = 15) -> dict[str, float]:
    """Accuracy, NLL, Brier, ECE, MCE, adaptive ECE and debiased ECE of one prediction."""
    ece, mce = ece_mce(probs, y, bins=bins)
    return {"accuracy": accuracy(probs, y), "nll": nll(probs, y), "brier": brier(probs, y),
            "ece": ece, "mce": mce, "ece_adaptive": ece_adaptive(probs, y, bins=bins),
            "ece_debiased": ece_debiased(probs, y, bins=bins)}
