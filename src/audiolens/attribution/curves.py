"""Deletion / insertion curves over k, and the random-mask control at the same k.

A map ranks its bins (largest first, ties in a seeded random order:
:func:`audiolens.attribution.masks.ranking`). For each fraction ``k`` of a geometric grid
``2^-(s-1), ..., 1/4, 1/2, 1`` (:func:`fractions`):

- *deletion*: ``p_c`` after the top-``k`` bins are replaced by the fill (falls fast for a
  faithful map; lower area is better);
- *insertion*: ``p_c`` when only the top-``k`` bins are kept, the rest replaced by the fill
  (rises fast for a faithful map; higher area is better).

The fill (``fill``, :func:`audiolens.attribution.masks.fill_state`) is the same array for
every explainer and for the random control; without one, removed bins take the floor. On a
per-sample-standardised model the floor makes insertion meaningless (a few bins on a flat
floor give ``p_c ≈ 1``), so the stage uses the example's own bins shuffled (param
``attribution.fill``): both curves then run between ``p_c(X)`` and ``p_c(fill)``.

The area under each curve over ``log2 k`` (trapezoid, divided by the axis length, so in
``[0, 1]``: every doubling of ``k`` weighs the same) is the headline fidelity number. A
linear ``k`` axis would give almost all the weight to ``k > 1/4``, where on a confident
model every curve has already reached its end value; the geometric grid and log axis
put the weight where explainers differ (the first 1-10 % of the bins). Its *gain* over a
random ranking (``random - deletion`` and ``insertion - random``, ≥ 10 seeded random
orders per example) says how much better than chance the map orders the bins. At
``k = 1`` both curves meet the random control (nothing kept / everything kept), so only
the order of the bins matters.

:func:`random_control` is the same control for one mask: the mask's own values put on
random bins (same number of kept bins, same soft values), averaged over seeded draws.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from audiolens.attribution.fidelity import fidelity_metrics
from audiolens.attribution.masks import apply_mask, ranking

__all__ = ["PROB_METRICS", "fractions", "curve_auc", "ranked_curves", "deletion_insertion",
           "random_curves", "random_masks", "random_control"]

PROB_METRICS = ("FF", "AI", "AD", "AG", "fid_in")

Predict = Callable[[np.ndarray], np.ndarray]


def fractions(steps: int) -> np.ndarray:
    """The geometric ``k`` grid ``2^-(steps-1), ..., 1/4, 1/2, 1`` (``steps`` points)."""
    if steps < 2:
        raise ValueError(f"curve steps must be >= 2, got {steps}")
    return 2.0 ** -np.arange(steps - 1, -1, -1, dtype=np.float64)


def curve_auc(curves: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Normalised area under each curve over ``log2 k`` (trapezoid), ``(n, len(ks))`` → ``(n,)``.

    A curve constant at ``v`` has area ``v``.
    """
    c = np.asarray(curves, dtype=np.float64)
    u = np.log2(np.asarray(ks, dtype=np.float64))
    du = np.diff(u) / (u[-1] - u[0])
    return ((c[:, 1:] + c[:, :-1]) * 0.5 * du).sum(axis=1)


def ranked_curves(predict: Predict, x: np.ndarray, orders: np.ndarray, c: np.ndarray, ks: np.ndarray, *,
                  floor_db: float | None, fill: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves of given bin orders.

    Parameters
    ----------
    predict : callable ``(m, F, T)`` dB → ``(m, K)`` probabilities
    x : ndarray (n, F, T)
        dB spectrograms.
    orders : ndarray of int (n, F·T)
        Flat bin indices per example, most important first.
    c : ndarray of int (n,)
        Explained class.
    ks : ndarray (s,)
        Fractions of bins removed (deletion) / kept (insertion).
    floor_db : float or None
        The floor removed bins take when there is no ``fill`` (None: each example's minimum).
    fill : ndarray (n, F, T), optional
        dB values removed bins take (:func:`audiolens.attribution.masks.fill_state`).

    Returns
    -------
    deletion, insertion : ndarray (n, s)
        ``p_c`` along each curve.
    """
    n, f, t = x.shape
    counts = np.maximum(1, np.round(np.asarray(ks) * f * t)).astype(int)
    masks = np.zeros((n, len(ks), f * t), dtype=np.float32)
    for i in range(n):
        for j, k in enumerate(counts):
            masks[i, j, orders[i, :k]] = 1.0
    masks = masks.reshape(n, len(ks), f, t)
    xs = np.repeat(x[:, None], len(ks), axis=1)
    rows = np.repeat(np.asarray(c, dtype=int), len(ks))
    flat_x, flat_m = xs.reshape(-1, f, t), masks.reshape(-1, f, t)
    flat_f = None if fill is None else np.repeat(np.asarray(fill)[:, None], len(ks), axis=1).reshape(-1, f, t)
    p_del = predict(apply_mask(flat_x, flat_m, floor_db=floor_db, complement=True, fill=flat_f))
    p_ins = predict(apply_mask(flat_x, flat_m, floor_db=floor_db, fill=flat_f))
    pick = np.arange(len(rows))
    return (p_del[pick, rows].reshape(n, len(ks)).astype(np.float64),
            p_ins[pick, rows].reshape(n, len(ks)).astype(np.float64))


def deletion_insertion(predict: Predict, x: np.ndarray, maps: np.ndarray, c: np.ndarray, ks: np.ndarray, *,
                       floor_db: float | None = None, fill: np.ndarray | None = None, seed: int = 0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves ``(n, len(ks))`` of attribution maps ``(n, F, T)``.

    Bins are ranked by the signed map (positive evidence first); example ``i`` breaks ties
    with the generator seeded ``(seed, i)``. ``floor_db`` / ``fill``: :func:`ranked_curves`.
    """
    orders = np.stack([ranking(a, np.random.default_rng([seed, i])) for i, a in enumerate(maps)])
    return ranked_curves(predict, x, orders, c, ks, floor_db=floor_db, fill=fill)


def random_curves(predict: Predict, x: np.ndarray, c: np.ndarray, ks: np.ndarray, *,
                  floor_db: float | None = None, fill: np.ndarray | None = None, draws: int = 10, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves of random bin orders, mean over ``draws`` orders per example.

    Draw ``d`` of example ``i`` uses the generator seeded ``(seed, 7919, d, i)``; the same
    ``fill`` as the explainers' curves (:func:`ranked_curves`).

    Returns
    -------
    deletion, insertion : ndarray (n, len(ks))
    """
    if draws < 1:
        raise ValueError(f"random draws must be >= 1, got {draws}")
    n, f, t = x.shape
    dels, ins = [], []
    for d in range(draws):      # one draw at a time: (n · len(ks)) inputs per model call
        orders = np.stack([np.random.default_rng([seed, 7919, d, i]).permutation(f * t) for i in range(n)])
        a, b = ranked_curves(predict, x, orders, c, ks, floor_db=floor_db, fill=fill)
        dels.append(a)
        ins.append(b)
    return np.mean(dels, axis=0), np.mean(ins, axis=0)


def random_masks(masks: np.ndarray, *, draw: int, seed: int = 0) -> np.ndarray:
    """Each mask's values on random bins: ``(n, F, T)`` → ``(n, F, T)``.

    Example ``i`` of draw ``d`` permutes its *sorted* values with the generator seeded
    ``(seed, d, i)``, so two masks with the same values (e.g. two ``top30`` masks) get the
    same random mask: the control is shared by every explainer at the same ``k``.
    """
    m = np.asarray(masks, dtype=np.float32)
    n = len(m)
    flat = np.sort(m.reshape(n, -1), axis=1)
    out = np.stack([np.random.default_rng([seed, draw, i]).permutation(row) for i, row in enumerate(flat)])
    return out.reshape(m.shape) if n else m


def random_control(predict: Predict, x: np.ndarray, masks: np.ndarray, c: np.ndarray, *,
                   probs: np.ndarray, floor_db: float | None = None, fill: np.ndarray | None = None,
                   draws: int = 10, seed: int = 0, cache: dict | None = None) -> dict[str, np.ndarray]:
    """Probability metrics (``PROB_METRICS``) of random masks with each mask's values, mean over draws.

    Parameters
    ----------
    predict : callable
    x : ndarray (n, F, T)
    masks : ndarray (n, F, T)
        The masks whose ``k`` (and soft values) the control keeps.
    c : ndarray of int (n,)
    probs : ndarray (n, K)
        ``predict(x)``.
    floor_db, fill
        What removed bins become (:func:`ranked_curves`): the explainers' own.
    draws : int
        Random masks per example (≥ 10 for a stable control).
    cache : dict, optional
        Reused across calls on the same ``x``: examples whose mask values were already
        controlled (e.g. the same ``top<k>`` for another explainer) are not re-scored.

    Returns
    -------
    dict metric → ndarray (n,)
    """
    if draws < 1:
        raise ValueError(f"random draws must be >= 1, got {draws}")
    cache = {} if cache is None else cache
    n = len(x)
    keys = [(i, hash(np.sort(np.asarray(m, np.float32).ravel()).tobytes())) for i, m in enumerate(masks)]
    todo = [i for i, k in enumerate(keys) if k not in cache]
    if todo:
        sel = np.asarray(todo)
        rm = np.concatenate([random_masks(masks, draw=d, seed=seed)[sel] for d in range(draws)])
        xs = np.tile(x[sel], (draws, 1, 1))
        fs = None if fill is None else np.tile(np.asarray(fill)[sel], (draws, 1, 1))
        p_in = predict(apply_mask(xs, rm, floor_db=floor_db, fill=fs))          # one batch for all draws
        p_out = predict(apply_mask(xs, rm, floor_db=floor_db, complement=True, fill=fs))
        met = fidelity_metrics(np.tile(probs[sel], (draws, 1)), p_in, p_out, np.tile(np.asarray(c)[sel], draws), rm)
        mean = np.stack([met[k] for k in PROB_METRICS], axis=1).reshape(draws, len(sel), -1).mean(axis=0)
        for j, i in enumerate(todo):
            cache[keys[i]] = mean[j]
    rows = np.stack([cache[k] for k in keys]) if n else np.zeros((0, len(PROB_METRICS)))
    return {k: rows[:, j] for j, k in enumerate(PROB_METRICS)}
