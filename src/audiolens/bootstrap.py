"""Grouped, seeded percentile bootstrap: a 95 % interval for any metric, resampling recordings.

Segments of one recording are not independent (same speaker, room, script), so every
interval resamples *groups* (recordings) with replacement and recomputes the metric on all
their segments. One plan (:class:`GroupBootstrap`) draws the resampled groups once; every
metric of a stage, and both sides of a paired comparison (CNN vs baseline, ensemble vs single
model), use the same draws. A draw is stored as the multiplicity of each segment, so means
(accuracy, NLL, Brier, precision@k) are one matrix product, confusion-matrix metrics
(balanced accuracy, F1) a product with one-hot codes, and any other metric (EER, AUROC,
ECE) is recomputed on the repeated indices (:meth:`GroupBootstrap.apply`).

Intervals are percentile intervals (2.5th and 97.5th percentiles of the resampled values).
For a statistic biased at small n (ECE: binning noise adds to it) the resamples, which
repeat examples, carry more of that bias, so the interval can sit above the point estimate;
it still shows how much the figure moves with the recordings drawn. Resamples where a metric is undefined (e.g. an AUROC of errors when the draw holds no
error) are left out: the interval is conditional on the metric being defined, and
``None`` when fewer than half the resamples define it.

Shapes written to ``metrics.json``: ``{"lo": float, "hi": float}`` (``dvc metrics show``
drops lists but flattens dicts: ``ci95.accuracy.lo``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

__all__ = ["LEVEL", "BootstrapSettings", "GroupBootstrap", "plan", "interval", "ci_block",
           "difference", "confusion_scores", "auroc", "bootstrap_ci", "bootstrap_difference"]

LEVEL = 0.95  # coverage of every interval (the 2.5th and 97.5th percentiles)
MIN_DEFINED = 0.5  # fraction of resamples that must define a metric for an interval


@dataclass(frozen=True, kw_only=True)
class BootstrapSettings:
    """The ``bootstrap`` params section.

    Attributes
    ----------
    resamples : int
        Bootstrap resamples B (0: no intervals are computed).
    seed : int
        Seed of the resampled groups (the same seed gives the same intervals).
    """

    resamples: int
    seed: int


class GroupBootstrap:
    """B resamples of the groups (with replacement), as per-segment multiplicities.

    Parameters
    ----------
    groups : (n,) array-like
        Group (recording) of each segment; any hashable values.
    resamples : int
        B >= 1.
    seed : int

    Attributes
    ----------
    weights : ndarray of int32, shape (B, n)
        How often segment i is in resample b (its group's draw count).
    n, n_groups, resamples : int
    """

    def __init__(self, groups, *, resamples: int, seed: int):
        groups = np.asarray(groups)
        if groups.ndim != 1 or groups.size == 0:
            raise ValueError(f"groups must be a non-empty 1-D array, got shape {groups.shape}")
        if resamples < 1:
            raise ValueError(f"resamples must be >= 1, got {resamples}")
        _, inverse = np.unique(groups.astype(str), return_inverse=True)
        self.n, self.n_groups, self.resamples = int(groups.size), int(inverse.max()) + 1, int(resamples)
        draws = np.random.default_rng(seed).integers(0, self.n_groups, size=(resamples, self.n_groups))
        flat = (np.arange(resamples)[:, None] * self.n_groups + draws).ravel()
        counts = np.bincount(flat, minlength=resamples * self.n_groups).reshape(resamples, self.n_groups)
        self.weights = counts[:, inverse].astype(np.int32)

    def indices(self, b: int) -> np.ndarray:
        """Segment indices of resample ``b`` (each repeated by its multiplicity), shape (sum w_b,)."""
        return np.repeat(np.arange(self.n), self.weights[b])

    def mean(self, values, *, skip_nan: bool = False) -> np.ndarray:
        """Resampled means of per-segment ``values`` (n,) or (n, m): shape (B,) or (B, m).

        ``skip_nan``: non-finite values are left out of each resampled mean (NaN where a
        resample has none), instead of making it NaN.
        """
        v = np.asarray(values, dtype=np.float64)
        if v.shape[0] != self.n:
            raise ValueError(f"values have {v.shape[0]} rows, the plan {self.n} segments")
        w = self.weights.astype(np.float64)
        if skip_nan:
            ok = np.isfinite(v)
            with np.errstate(invalid="ignore", divide="ignore"):
                return (w @ np.where(ok, v, 0.0)) / (w @ ok.astype(np.float64))
        total = w.sum(axis=1)
        return (w @ v) / (total[:, None] if v.ndim > 1 else total)

    def apply(self, metric: Callable, *arrays) -> np.ndarray:
        """``metric(*(a[idx] for a in arrays))`` for every resample; None / errors / non-finite -> NaN.

        Returns
        -------
        ndarray, shape (B,)
        """
        arrays = [np.asarray(a) for a in arrays]
        if any(len(a) != self.n for a in arrays):
            raise ValueError(f"every array must have {self.n} rows")
        out = np.full(self.resamples, np.nan)
        for b in range(self.resamples):
            idx = self.indices(b)
            try:
                v = metric(*(a[idx] for a in arrays))
            except (ValueError, ZeroDivisionError, FloatingPointError):
                continue
            if v is not None and np.isfinite(v):
                out[b] = float(v)
        return out


def plan(groups, settings: BootstrapSettings | None) -> GroupBootstrap | None:
    """The resampling plan of ``groups``, or None when intervals are off (no settings, 0 resamples)."""
    if settings is None or settings.resamples <= 0 or len(groups) == 0:
        return None
    return GroupBootstrap(groups, resamples=settings.resamples, seed=settings.seed)


def interval(dist) -> dict[str, float] | None:
    """Percentile interval ``{"lo", "hi"}`` of resampled values (NaNs = undefined resamples left out).

    None when fewer than :data:`MIN_DEFINED` of the resamples are defined.
    """
    d = np.asarray(dist, dtype=np.float64).ravel()
    ok = d[np.isfinite(d)]
    if d.size == 0 or ok.size < MIN_DEFINED * d.size:
        return None
    tail = 100 * (1 - LEVEL) / 2
    lo, hi = np.percentile(ok, [tail, 100 - tail])
    return {"lo": float(lo), "hi": float(hi)}


def ci_block(dists: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``{metric: {"lo", "hi"}}`` for every resampled metric that has an interval."""
    out = {}
    for key, dist in dists.items():
        ci = interval(dist)
        if ci is not None:
            out[key] = ci
    return out


def difference(value_a, value_b, dist_a, dist_b) -> dict:
    """A paired comparison A - B: the difference, its interval and whether the interval excludes 0.

    Parameters
    ----------
    value_a, value_b : float or None
        The point estimates.
    dist_a, dist_b : (B,) arrays
        Their values on the *same* resamples.

    Returns
    -------
    dict
        ``diff`` (A - B; None when either value is missing), ``lo``, ``hi`` (None without an
        interval) and ``distinguishable`` (1 when the interval excludes 0, else 0: a number,
        so that ``dvc metrics show`` shows it).
    """
    if value_a is None or value_b is None or not (math.isfinite(value_a) and math.isfinite(value_b)):
        return {"diff": None, "lo": None, "hi": None, "distinguishable": 0}
    ci = interval(np.asarray(dist_a, dtype=np.float64) - np.asarray(dist_b, dtype=np.float64))
    out = {"diff": float(value_a - value_b), "lo": None if ci is None else ci["lo"],
           "hi": None if ci is None else ci["hi"]}
    out["distinguishable"] = int(ci is not None and (ci["lo"] > 0 or ci["hi"] < 0))
    return out


def confusion_scores(boot: GroupBootstrap, y_true, y_pred, n_classes: int) -> dict[str, np.ndarray]:
    """Resampled accuracy, balanced accuracy and macro F1 from per-resample confusion matrices.

    Conventions are scikit-learn's: balanced accuracy averages recall over the classes present
    in the resample's labels; macro F1 averages over all ``n_classes`` classes (0 for a class
    with no true and no predicted example).

    Returns
    -------
    dict of (B,) arrays
        ``accuracy``, ``balanced_accuracy``, ``f1_macro``.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    k = int(n_classes)
    cells = np.zeros((boot.n, k * k))
    cells[np.arange(boot.n), y_true * k + y_pred] = 1.0
    cm = (boot.weights.astype(np.float64) @ cells).reshape(-1, k, k)  # (B, true, pred)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    total = support.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        denom = support + predicted
        f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
        return {"accuracy": tp.sum(axis=1) / total,
                "balanced_accuracy": np.nanmean(recall, axis=1),
                "f1_macro": f1.mean(axis=1)}


def auroc(score, positive) -> float | None:
    """Area under the ROC curve of ``score`` for ``positive`` (Mann-Whitney, ties count 1/2).

    Fast (one ``rankdata``) for per-resample use; None when one class is absent.
    """
    from scipy.stats import rankdata

    s, pos = np.asarray(score, dtype=np.float64), np.asarray(positive, dtype=bool)
    n_pos = int(pos.sum())
    n_neg = pos.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(s)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_ci(metric: Callable, *arrays, groups, settings: BootstrapSettings | None) -> dict:
    """One metric with its n and grouped 95 % interval: the call for stages without their own plan.

    Parameters
    ----------
    metric : callable
        ``metric(*arrays) -> float`` (or None when undefined), computed on the rows given.
    *arrays : (n, ...) arrays
        Per-segment inputs (e.g. a per-example fidelity score).
    groups : (n,) array-like
        Recording of each row.
    settings : BootstrapSettings or None
        None or 0 resamples: no interval.

    Returns
    -------
    dict
        ``value``, ``n``, ``n_recordings`` and ``ci95`` (``{"lo", "hi"}``; absent when off or
        undefined).
    """
    groups = np.asarray(groups)
    value = metric(*arrays)
    out = {"value": None if value is None else float(value), "n": int(len(groups)),
           "n_recordings": int(len(np.unique(groups.astype(str))))}
    boot = plan(groups, settings)
    if boot is not None:
        ci = interval(boot.apply(metric, *arrays))
        if ci is not None:
            out["ci95"] = ci
    return out


def bootstrap_difference(metric: Callable, arrays_a, arrays_b, *, groups,
                         settings: BootstrapSettings | None) -> dict:
    """A paired comparison of one metric on two sets of per-row inputs over the same rows (A - B).

    E.g. an explainer's fidelity against the random-mask control on the same examples:
    both are recomputed on the same resampled recordings.

    Parameters
    ----------
    metric : callable
        ``metric(*arrays) -> float`` (or None when undefined).
    arrays_a, arrays_b : sequence of (n, ...) arrays
        The inputs of A and of B, row i of both from the same example.
    groups : (n,) array-like
        Recording of each row.
    settings : BootstrapSettings or None

    Returns
    -------
    dict
        :func:`difference` (``diff``, ``lo``, ``hi``, ``distinguishable``) plus ``n`` and
        ``n_recordings``; without settings (or 0 resamples) ``lo``/``hi`` are None.
    """
    groups = np.asarray(groups)
    va, vb = metric(*arrays_a), metric(*arrays_b)
    boot = plan(groups, settings)
    if boot is None:
        out = {"diff": None if va is None or vb is None else float(va - vb), "lo": None, "hi": None,
               "distinguishable": 0}
    else:
        out = difference(None if va is None else float(va), None if vb is None else float(vb),
                         boot.apply(metric, *arrays_a), boot.apply(metric, *arrays_b))
    return out | {"n": int(len(groups)), "n_recordings": int(len(np.unique(groups.astype(str))))}
