"""Perturbation explainers: occlusion of time×frequency patches and LIME on a time×frequency grid.

Both are black-box: they only call the model's probabilities (through the model's compiled
``predict_on_batch``, :func:`audiolens.models.predict.predict`: LIME's thousands of samples
run about 3x faster than eager calls). Maps are ``(n, F, T)``;
positive values mark bins whose removal (set to the baseline dB value) lowers ``p_c``.
"""
from __future__ import annotations

import logging

import numpy as np

from audiolens.attribution.gradients import baseline_of
from audiolens.models.predict import predict

__all__ = ["grid_segments", "occlusion", "lime_grid"]


def _patch(size: int | float, n: int) -> int:
    """A patch size in bins: an int, or a fraction of the axis length."""
    p = int(round(size * n)) if isinstance(size, float) and size <= 1.0 else int(size)
    return max(1, min(n, p))


def grid_segments(shape: tuple[int, int], *, n_freq: int = 8, n_time: int = 8) -> np.ndarray:
    """Label map ``(F, T)`` of a regular ``n_freq × n_time`` grid (ids row-major from low frequency)."""
    f, t = shape
    n_freq, n_time = max(1, min(n_freq, f)), max(1, min(n_time, t))
    rows = (np.arange(f) * n_freq) // f
    cols = (np.arange(t) * n_time) // t
    return (rows[:, None] * n_time + cols[None, :]).astype(np.int64)


def occlusion(model, x: np.ndarray, c: np.ndarray, *, patch: tuple[int | float, int | float] = (0.125, 0.125),
              stride: tuple[int | float, int | float] | None = None, baseline: float | str = "min",
              batch_size: int = 64) -> np.ndarray:
    """Occlusion sensitivity: mean drop of ``p_c`` over the patches covering each bin.

    Parameters
    ----------
    patch : (freq, time)
        Patch size in bins (int) or as a fraction of ``F`` / ``T`` (float ≤ 1).
    stride : (freq, time), optional
        Step between patches (same units); default half the patch (overlapping).
    baseline : "min" or float
        Value occluded bins take: the example's minimum dB (silence) or a dB value.
    """
    n, f, t = x.shape
    pf, pt = _patch(patch[0], f), _patch(patch[1], t)
    sf, st = (max(1, pf // 2), max(1, pt // 2)) if stride is None else (_patch(stride[0], f), _patch(stride[1], t))
    starts_f = sorted(set(list(range(0, max(1, f - pf + 1), sf)) + [max(0, f - pf)]))
    starts_t = sorted(set(list(range(0, max(1, t - pt + 1), st)) + [max(0, t - pt)]))
    boxes = [(i, j) for i in starts_f for j in starts_t]
    base = baseline_of(x, baseline)
    out = np.zeros(x.shape, dtype=np.float32)
    for k in range(n):
        p0 = predict(model, x[k:k + 1, ..., None], batch_size=1)[0, c[k]]
        batch = np.repeat(x[k:k + 1], len(boxes), axis=0)
        for b, (i, j) in enumerate(boxes):
            batch[b, i:i + pf, j:j + pt] = base[k, i:i + pf, j:j + pt]
        drops = p0 - predict(model, batch[..., None], batch_size=batch_size)[:, c[k]]
        acc = np.zeros((f, t))
        cnt = np.zeros((f, t))
        for d, (i, j) in zip(drops, boxes):
            acc[i:i + pf, j:j + pt] += d
            cnt[i:i + pf, j:j + pt] += 1
        out[k] = acc / np.maximum(cnt, 1)
    return out


def lime_grid(model, x: np.ndarray, c: np.ndarray, *, n_freq: int = 8, n_time: int = 8,
              num_samples: int = 256, baseline: float | str = "min", seed: int = 0,
              batch_size: int = 64, diagnostics: dict | None = None) -> np.ndarray:
    """LIME (``lime.lime_image``) with a regular time×frequency grid as the segmentation.

    Each grid cell's weight in LIME's local linear surrogate is spread over the cell's
    bins. Hidden cells take the baseline dB value.

    Parameters
    ----------
    n_freq, n_time : int
        Grid cells along frequency and time (``n_freq · n_time`` features).
    num_samples : int
        Perturbed copies per example (the main cost); fewer than 8 per grid cell makes the
        surrogate's fit unreliable (a warning is logged).
    diagnostics : dict, optional
        Filled with ``r2`` ``(n,)``: the weighted R² of LIME's surrogate on its samples
        (``explanation.score``).
    """
    from lime import lime_image

    n, f, t = x.shape
    seg = grid_segments((f, t), n_freq=n_freq, n_time=n_time)
    base = baseline_of(x, baseline)
    out = np.zeros(x.shape, dtype=np.float32)

    def classifier(images: np.ndarray) -> np.ndarray:
        return predict(model, np.asarray(images[..., :1], dtype=np.float32), batch_size=batch_size)

    n_cells = int(seg.max()) + 1
    if num_samples < 8 * n_cells:
        logging.getLogger("audiolens.attribution").warning(
            "LIME: %d samples for %d grid cells (< 8 per cell): the surrogate fit is unreliable",
            num_samples, n_cells)
    r2 = np.full(n, np.nan)
    for k in range(n):
        explainer = lime_image.LimeImageExplainer(random_state=seed)
        exp = explainer.explain_instance(
            np.asarray(x[k], dtype=np.float64), classifier, labels=(int(c[k]),), top_labels=None,
            hide_color=float(base[k, 0, 0]), num_features=int(seg.max()) + 1, num_samples=num_samples,
            batch_size=batch_size, segmentation_fn=lambda _img: seg, random_seed=seed)
        weights = np.zeros(int(seg.max()) + 1)
        for s, w in exp.local_exp[int(c[k])]:
            weights[s] = w
        out[k] = weights[seg]
        r2[k] = float(exp.score)     # one label explained: its surrogate's weighted R²
    if diagnostics is not None:
        diagnostics["r2"] = r2
    return out
