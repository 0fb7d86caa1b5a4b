"""Fidelity and complexity metrics of attribution masks.

For an example ``X`` of class ``c`` (predicted or chosen), a mask ``M`` and the model's
class probability ``p_c``:

- ``FF``  (faithfulness) = ``p_c(X) - p_c(X ⊙ (1 - M))`` — confidence lost when the
  kept region is removed;
- ``AI``  (average increase) = ``100 · 1[p_c(X ⊙ M) > p_c(X)]``;
- ``AD``  (average drop) = ``100 · max(0, p_c(X) - p_c(X ⊙ M)) / p_c(X)``;
- ``AG``  (average gain) = ``100 · max(0, p_c(X ⊙ M) - p_c(X)) / (1 - p_c(X))``
  (0 when ``p_c(X) = 1``: nothing can be gained);
- ``fid_in`` = ``1[argmax f(X ⊙ M) = c]``;
- ``SPS`` = Gini index of ``|A|`` (Quantus Sparseness) of the raw attribution map ``A``
  (not of a binary mask, where it is the constant ``1 - k/n`` for ``k`` ones out of ``n``);
- ``COMP`` = entropy (nats) of ``|A| / Σ|A|`` (Quantus Complexity), ``COMP_norm`` =
  ``COMP / ln n`` in ``[0, 1]`` (same remark);
- ``mask_mean``.

``X ⊙ M`` is :func:`audiolens.attribution.masks.apply_mask` (amplitude scaled towards the
fill: the stage's ``attribution.fill``, by default the example's bins shuffled; without
one, the floor, by default each example's minimum). The probability metrics depend only on the
three probability vectors, so the spectral variant and the audio round-trip variant
(masked spectrogram → audio → features → model) share :func:`fidelity_metrics`.
Deletion / insertion curves and the random-mask control are in
:mod:`audiolens.attribution.curves`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from audiolens.attribution.masks import apply_mask

__all__ = ["METRICS", "gini", "complexity", "fidelity_metrics", "spectral_fidelity",
           "summarise"]

METRICS = ("FF", "AI", "AD", "AG", "fid_in", "SPS", "COMP", "COMP_norm", "mask_mean")


def gini(mask: np.ndarray) -> float:
    """Gini index of ``|mask|`` flattened (0: uniform, → 1: one bin); NaN for an all-zero mask."""
    a = np.sort(np.abs(np.asarray(mask, dtype=np.float64)).ravel())
    n, total = a.size, a.sum()
    if n == 0 or total <= 0:
        return float("nan")
    idx = np.arange(1, n + 1)
    return float(np.sum((2 * idx - n - 1) * a) / (n * total))


def complexity(mask: np.ndarray) -> tuple[float, float]:
    """Entropy (nats) of ``|mask| / Σ|mask|`` and the same divided by ``ln n``.

    NaN for an all-zero mask; the normalised value is NaN when ``n = 1``.
    """
    a = np.abs(np.asarray(mask, dtype=np.float64)).ravel()
    total = a.sum()
    if total <= 0:
        return float("nan"), float("nan")
    p = a[a > 0] / total
    h = float(-(p * np.log(p)).sum())
    return h, (h / np.log(a.size) if a.size > 1 else float("nan"))


def fidelity_metrics(probs: np.ndarray, probs_in: np.ndarray, probs_out: np.ndarray,
                     class_index: np.ndarray, masks: np.ndarray, maps: np.ndarray | None = None
                     ) -> dict[str, np.ndarray]:
    """Per-example metrics from the model's probabilities on X, X ⊙ M and X ⊙ (1 - M).

    Parameters
    ----------
    probs, probs_in, probs_out : ndarray, shape (n, K)
        Class probabilities of the original, masked-in and masked-out inputs.
    class_index : ndarray of int, shape (n,)
        The explained class per example.
    masks : ndarray, shape (n, F, T)
    maps : ndarray, shape (n, F, T), optional
        The raw attribution maps (or soft masks) SPS / COMP are computed on; without
        them SPS / COMP are NaN (a mask's own sparseness says nothing about the explainer).

    Returns
    -------
    dict metric name → ndarray (n,) (see ``METRICS``).
    """
    probs, probs_in, probs_out = (np.asarray(p, dtype=np.float64) for p in (probs, probs_in, probs_out))
    c = np.asarray(class_index, dtype=int)
    n = len(c)
    if not (probs.shape == probs_in.shape == probs_out.shape) or probs.shape[0] != n:
        raise ValueError(f"probability arrays must all be (n, K) with n = {n}: "
                         f"{probs.shape}, {probs_in.shape}, {probs_out.shape}")
    rows = np.arange(n)
    p, p_in, p_out = probs[rows, c], probs_in[rows, c], probs_out[rows, c]
    with np.errstate(divide="ignore", invalid="ignore"):
        ad = np.where(p > 0, 100.0 * np.maximum(0.0, p - p_in) / p, 0.0)
        ag = np.where(p < 1, 100.0 * np.maximum(0.0, p_in - p) / (1.0 - p), 0.0)
    comp = (np.array([complexity(a) for a in maps]).reshape(n, 2) if maps is not None
            else np.full((n, 2), np.nan))
    return {
        "FF": p - p_out,
        "AI": 100.0 * (p_in > p),
        "AD": ad,
        "AG": ag,
        "fid_in": (probs_in.argmax(axis=1) == c).astype(np.float64),
        "SPS": np.array([gini(a) for a in maps]) if maps is not None else np.full(n, np.nan),
        "COMP": comp[:, 0],
        "COMP_norm": comp[:, 1],
        "mask_mean": np.asarray(masks, dtype=np.float64).reshape(n, -1).mean(axis=1),
    }


def spectral_fidelity(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, masks: np.ndarray,
                      class_index: np.ndarray, *, floor_db: float | None = None,
                      probs: np.ndarray | None = None, maps: np.ndarray | None = None,
                      fill: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Fidelity metrics in the spectral domain.

    Parameters
    ----------
    predict : callable
        ``(n, F, T)`` dB spectrograms → ``(n, K)`` probabilities.
    x : ndarray, shape (n, F, T)
        dB spectrograms.
    masks : ndarray, shape (n, F, T)
    class_index : ndarray of int, shape (n,)
    floor_db : float or None
        dB floor the removed bins take (None: each example's minimum).
    probs : ndarray (n, K), optional
        ``predict(x)`` if already known.
    maps : ndarray (n, F, T), optional
        Raw attribution maps for SPS / COMP (see :func:`fidelity_metrics`).
    fill : ndarray (n, F, T), optional
        dB values removed bins take (:func:`audiolens.attribution.masks.fill_state`);
        replaces the floor when given.
    """
    probs = predict(x) if probs is None else probs
    p_in = predict(apply_mask(x, masks, floor_db=floor_db, fill=fill))
    p_out = predict(apply_mask(x, masks, floor_db=floor_db, complement=True, fill=fill))
    return fidelity_metrics(probs, p_in, p_out, class_index, masks, maps)


def summarise(per_example: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean of each metric over examples (NaNs ignored; NaN when all are NaN) plus ``n``."""
    out: dict[str, float] = {}
    for k, v in per_example.items():
        v = np.asarray(v, dtype=np.float64)
        out[k] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
    out["n"] = int(len(next(iter(per_example.values())))) if per_example else 0
    return out
