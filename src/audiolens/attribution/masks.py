"""Masks from attribution maps, and applying a mask to a dB spectrogram.

A mask ``M`` has the shape of the spectrogram and values in ``[0, 1]``; 1 keeps a
time-frequency bin, 0 replaces it by the floor. The mask acts on *amplitude*, as in L-MAC
(the features are ``dB = 20 log10(A / ref)``)::

    masked     = 20 log10(A_floor + (A - A_floor) * M),   A = 10^(X / 20), A_floor = 10^(floor / 20)
    complement = the same with 1 - M

so a binary mask keeps a bin or sets it to the floor exactly, and ``M = 0.5`` lowers a bin
well above the floor by about 6 dB (halves its amplitude) instead of halving its dB distance
to the floor. The floor is each example's own minimum (the silence the model saw in
training; the IG / occlusion / LIME baseline) unless a dB value is given.

The fidelity metrics and curves replace a removed bin by a *fill* instead
(:func:`fill_state`, param ``attribution.fill``; ``apply_mask(..., fill=...)``): ``floor``
is the floor above, ``shuffle`` the example's own bins in a seeded random order (the same
values, so the same mean and spread, without their time-frequency structure). A model that
standardises each input (``PerSampleStandardize``) turns a few kept bins on a flat floor
into extreme values far from its training data (on the demo ``p_c ≈ 1`` and log-odds
85-105 from 1/128 of the bins, against 8 for the whole input); on the shuffled fill they keep
their usual scale, and the fill alone carries no evidence for the class (mean ``p_c`` 0.39 on
the demo, 2 classes). This is the reasoning of RISE's blurred insertion canvas (Petsiuk et
al., 2018) and of ROAD's imputation (Rong et al., 2022): the "removed" state must not be
out of distribution.

Mask kinds (``MASK_KINDS``, the 14 canonical ones; the parser also accepts any
``top<k>``, ``pos_top<k>``, ``t<pct>``, ``pos_t<pct>``):

==============  =============================================================
``minmax``      ``(A - min A) / (max A - min A)``
``sigmoid``     ``sigmoid(A / std A)`` (scale-free; ``A > 0`` maps above 0.5)
``binary``      ``1[A > 0]``
``top<k>``      1 on the ``k`` % bins with the largest ``A`` (5, 30, 50)
``t<pct>``      ``1[minmax(A) >= pct/100]`` (25, 50, 75)
``pos_minmax``  ``max(A, 0) / max A`` (positive evidence only)
``pos_top<k>``  1 on the ``k`` % largest bins among those with ``A > 0`` (5, 30, 50)
``pos_t<pct>``  ``1[max(A, 0) / max A >= pct/100]`` (25, 50, 75)
==============  =============================================================

Every kind is computed per example (over that example's ``F x T`` bins). A constant map
gives an all-zero mask (no bin is preferred); a map without positive values gives an
all-zero ``pos_*`` mask. Ties at the ``top<k>`` boundary are broken by a seeded random
order (not by raster position, which would fill flat regions from low frequencies first).
"""
from __future__ import annotations

import re

import numpy as np

from audiolens.config.analysis import MASK_KIND_PATTERN

__all__ = ["MASK_KINDS", "FILLS", "parse_mask_kind", "make_mask", "make_masks", "apply_mask", "floor_of",
           "fill_state", "ranking"]

MASK_KINDS = ("minmax", "sigmoid", "binary", "top5", "top30", "top50", "t25", "t50", "t75",
              "pos_minmax", "pos_top30", "pos_t25", "pos_t50", "pos_t75")

FILLS = ("shuffle", "floor")  # what a removed bin becomes in the fidelity metrics (:func:`fill_state`)

_PATTERN = re.compile(MASK_KIND_PATTERN)


def parse_mask_kind(kind: str) -> tuple[str, bool, float | None]:
    """Split a mask name into ``(family, positive_only, value)``.

    Returns
    -------
    family : {"minmax", "sigmoid", "binary", "top", "threshold"}
    positive_only : bool
    value : float or None
        ``k`` in percent for ``top``, the threshold in ``[0, 1]`` for ``threshold``.

    Raises
    ------
    ValueError
        Unknown name, or ``k`` / threshold outside ``(0, 100]``.
    """
    m = _PATTERN.match(str(kind))
    if m is None or (m.group("pos") and m.group("family") in ("sigmoid", "binary")):
        raise ValueError(f"unknown mask kind {kind!r}; known: {', '.join(MASK_KINDS)} "
                         f"(or top<k>, pos_top<k>, t<pct>, pos_t<pct>)")
    pos = bool(m.group("pos"))
    if m.group("family"):
        return m.group("family"), pos, None
    if m.group("k") is not None:
        k = float(m.group("k"))
        if not 0 < k <= 100:
            raise ValueError(f"mask kind {kind!r}: top-k percentage must be in (0, 100]")
        return "top", pos, k
    t = float(m.group("t"))
    if not 0 < t <= 100:
        raise ValueError(f"mask kind {kind!r}: threshold percentage must be in (0, 100]")
    return "threshold", pos, t / 100.0


def _minmax(a: np.ndarray) -> np.ndarray:
    lo, hi = a.min(), a.max()
    if hi - lo <= 0:
        return np.zeros_like(a)
    return (a - lo) / (hi - lo)


def _pos_scaled(a: np.ndarray) -> np.ndarray:
    p = np.maximum(a, 0.0)
    hi = p.max()
    return p / hi if hi > 0 else np.zeros_like(a)


def ranking(attribution: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of a map's bins, largest value first; ties in a seeded random order.

    Parameters
    ----------
    attribution : ndarray, any shape (flattened)
    rng : numpy Generator
        Draws the tie-breaking keys (one uniform per bin).

    Returns
    -------
    ndarray of int, shape (attribution.size,)
    """
    flat = np.asarray(attribution, dtype=np.float64).ravel()
    return np.lexsort((rng.random(flat.size), -flat))


def _top(a: np.ndarray, k: float, positive: bool, rng: np.random.Generator) -> np.ndarray:
    """1 on the ``ceil(k% of n)`` largest bins (ties broken in a seeded random order)."""
    flat = a.ravel()
    n_keep = int(np.ceil(flat.size * k / 100.0))
    if positive:
        n_keep = min(n_keep, int((flat > 0).sum()))
    out = np.zeros(flat.size, dtype=np.float32)
    if n_keep > 0 and flat.max() > flat.min():
        out[ranking(flat, rng)[:n_keep]] = 1.0
    return out.reshape(a.shape)


def make_mask(attribution: np.ndarray, kind: str, *, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Mask of one attribution map.

    Parameters
    ----------
    attribution : ndarray, shape (F, T)
    kind : str
        See the module docstring.
    seed : int or numpy Generator
        Tie-breaking order of ``top<k>`` masks.

    Returns
    -------
    ndarray, float32, shape (F, T), values in [0, 1]
    """
    family, pos, value = parse_mask_kind(kind)
    a = np.asarray(attribution, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"attribution must be (F, T), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("attribution map contains NaN or inf")
    if family == "minmax":
        m = _pos_scaled(a) if pos else _minmax(a)
    elif family == "sigmoid":
        sd = a.std()
        m = 1.0 / (1.0 + np.exp(-a / sd)) if sd > 0 else np.zeros_like(a)
    elif family == "binary":
        m = (a > 0).astype(np.float64)
    elif family == "top":
        m = _top(a, value, pos, np.random.default_rng(seed))
    else:  # threshold
        scaled = _pos_scaled(a) if pos else _minmax(a)
        m = ((scaled >= value) & (scaled > 0)).astype(np.float64)
    return np.clip(m, 0.0, 1.0).astype(np.float32)


def make_masks(attributions: np.ndarray, kind: str, *, seed: int = 0) -> np.ndarray:
    """Masks of a batch of maps, shape ``(n, F, T)`` → ``(n, F, T)`` float32.

    Example ``i`` breaks ties with the generator seeded ``(seed, i)``: the same map at the
    same position gets the same mask whichever explainer produced it.
    """
    a = np.asarray(attributions)
    if a.ndim != 3:
        raise ValueError(f"attributions must be (n, F, T), got shape {a.shape}")
    return (np.stack([make_mask(m, kind, seed=np.random.default_rng([seed, i])) for i, m in enumerate(a)])
            if len(a) else np.zeros(a.shape, np.float32))


def floor_of(spec_db: np.ndarray, floor_db: float | None = None) -> np.ndarray:
    """The floor per example, broadcastable to ``spec_db`` ``(..., F, T)``: its minimum, or ``floor_db``."""
    x = np.asarray(spec_db, dtype=np.float32)
    if floor_db is not None:
        return np.full(x.shape[:-2] + (1, 1), float(floor_db), dtype=np.float32)
    return x.min(axis=(-2, -1), keepdims=True)


def fill_state(spec_db: np.ndarray, kind: str, *, floor_db: float | None = None, seed: int = 0) -> np.ndarray:
    """What each bin of ``spec_db`` ``(n, F, T)`` becomes when a mask removes it, ``(n, F, T)`` dB float32.

    ``kind = "floor"``: the floor (:func:`floor_of`); ``"shuffle"``: example ``i``'s own bins
    permuted with the generator seeded ``(seed, 104729, i)`` (same values, no structure; the
    same fill for every explainer and for the random control).
    """
    x = np.asarray(spec_db, dtype=np.float32)
    if kind not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {kind!r}")
    if kind == "floor" or x.ndim < 2:
        return np.broadcast_to(floor_of(x, floor_db), x.shape).copy()
    flat = x.reshape(len(x), -1) if x.ndim == 3 else x.reshape(1, -1)
    out = np.stack([np.random.default_rng([seed, 104729, i]).permutation(row) for i, row in enumerate(flat)])
    return out.reshape(x.shape)


def apply_mask(spec_db: np.ndarray, mask: np.ndarray, *, floor_db: float | None = None,
               complement: bool = False, fill: np.ndarray | None = None) -> np.ndarray:
    """Keep the masked bins of a dB spectrogram, scale the rest's amplitude towards the floor.

    Parameters
    ----------
    spec_db : ndarray, shape (..., F, T)
        dB spectrogram(s).
    mask : ndarray, broadcastable to ``spec_db``
        Values in [0, 1].
    floor_db : float or None
        The dB value a removed bin takes; None: each example's minimum over its ``F x T``
        bins (the spectrogram's silence).
    complement : bool
        Apply ``1 - mask`` instead (keep what the mask removes).
    fill : ndarray, broadcastable to ``spec_db``, optional
        dB values removed bins take (:func:`fill_state`); replaces the floor when given.

    Returns
    -------
    ndarray, float32, same shape as ``spec_db``:
    ``20 log10(A_floor + (A - A_floor) * M)`` with ``A = 10^(X/20)``; exactly ``X`` where
    ``M = 1`` and the floor (or ``fill``) where ``M = 0``.
    """
    x = np.asarray(spec_db, dtype=np.float32)
    m = np.asarray(mask, dtype=np.float32)
    if m.min(initial=0.0) < 0 or m.max(initial=0.0) > 1:
        raise ValueError("mask values must lie in [0, 1]")
    if complement:
        m = 1.0 - m
    floor = (floor_of(x, floor_db) if fill is None else np.asarray(fill, np.float32)).astype(np.float64)
    amp, amp_floor = 10.0 ** (x.astype(np.float64) / 20.0), 10.0 ** (floor / 20.0)
    soft = 20.0 * np.log10(amp_floor + (amp - amp_floor) * m)
    out = np.where(m >= 1.0, x, np.where(m <= 0.0, floor, soft))
    return out.astype(np.float32)
