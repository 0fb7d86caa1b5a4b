"""Model-parameter randomisation test (Adebayo et al., 2018), cascading from the top.

Layers with trainable weights are re-initialised one after another from the output
(``logits``) down to the first convolution; after each step every explainer's maps are
recomputed (same examples, same explained class) and compared with the maps of the
trained model. An explainer that depends on what the model learned gives maps whose
similarity falls towards 0 as more layers are randomised; one that stays high is
explaining the input, not the model.

A constant map (e.g. a ReLU'd Grad-CAM whose feature map is all zero) has no ranking: its
similarity is undefined (NaN, counted in ``n_degenerate``), never a 0 that would read as a
perfect pass. An explainer whose trained-model maps are constant for at least half the
examples is reported with ``status = "degenerate"``. Each step reports the mean over the
examples with a defined similarity, its standard error and a normal 95 % interval.

The model's weights are restored afterwards (also on error).
"""
from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

__all__ = ["weighted_layers", "reinitialise", "is_degenerate", "map_similarity", "cascading_randomisation"]

_INIT_ATTR = {"kernel": "kernel_initializer", "bias": "bias_initializer", "gamma": "gamma_initializer",
              "beta": "beta_initializer", "depthwise_kernel": "depthwise_initializer",
              "pointwise_kernel": "pointwise_initializer", "embeddings": "embeddings_initializer"}


def weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Layers owning trainable weights, in topological order (nested models flattened)."""
    out: list[keras.layers.Layer] = []

    def walk(m):
        for layer in m.layers:
            if isinstance(layer, keras.Model):
                walk(layer)
            elif layer.trainable_weights:
                out.append(layer)
    walk(model)
    return out


def _fresh(init, seed: int):
    cfg = dict(init.get_config())
    if "seed" in cfg:
        cfg["seed"] = seed
    return type(init).from_config(cfg)


def reinitialise(layer: keras.layers.Layer, *, seed: int) -> list[str]:
    """Draw fresh values for a layer's trainable weights from its own initialisers.

    Weights without a known initialiser: Glorot-uniform for matrices/kernels, zeros
    for vectors. Non-trainable state (BatchNorm moving statistics) is kept.

    Returns
    -------
    list of str
        The names of the re-initialised variables.
    """
    names = []
    for i, var in enumerate(layer.trainable_weights):
        short = var.name.split("/")[-1].split(":")[0]
        init = getattr(layer, _INIT_ATTR.get(short, "_none_"), None)
        if init is None:
            init = keras.initializers.GlorotUniform() if len(var.shape) >= 2 else keras.initializers.Zeros()
        values = _fresh(init, seed + i)(tuple(var.shape), dtype=var.dtype)
        var.assign(values)
        names.append(short)
    return names


def is_degenerate(a: np.ndarray) -> bool:
    """True for a map whose ``|a|`` is constant (no bin ranks above another)."""
    return bool(np.ptp(np.abs(np.asarray(a, dtype=np.float64))) == 0)


def map_similarity(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Similarity of two ``(F, T)`` maps.

    Returns ``spearman_abs`` (rank correlation of ``|a|``, ``|b|``), ``spearman`` (signed)
    and ``ssim`` (structural similarity of the min-max scaled ``|a|``, ``|b|``). When
    either map is constant (:func:`is_degenerate`, e.g. an all-zero Grad-CAM) the
    similarity is undefined: all three are NaN.
    """
    from skimage.metrics import structural_similarity

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if is_degenerate(a) or is_degenerate(b):
        return {"spearman_abs": float("nan"), "spearman": float("nan"), "ssim": float("nan")}

    def rank_corr(u, v):
        if np.ptp(u) == 0 or np.ptp(v) == 0:
            return float("nan")
        return float(spearmanr(u.ravel(), v.ravel()).statistic)

    def scaled(u):
        u = np.abs(u)
        return (u - u.min()) / np.ptp(u) if np.ptp(u) > 0 else np.zeros_like(u)

    win = min(7, *a.shape)
    win -= 1 - win % 2          # odd, <= the smaller side
    ssim = (float(structural_similarity(scaled(a), scaled(b), data_range=1.0, win_size=win))
            if win >= 3 else float("nan"))
    return {"spearman_abs": rank_corr(np.abs(a), np.abs(b)), "spearman": rank_corr(a, b), "ssim": ssim}


def cascading_randomisation(model: keras.Model, x: np.ndarray, c: np.ndarray,
                            explainers: dict[str, Callable[[keras.Model, np.ndarray, np.ndarray], np.ndarray]],
                            *, seed: int = 0, max_layers: int | None = None) -> pd.DataFrame:
    """Similarity of each explainer's maps before/after cascading top-down randomisation.

    Parameters
    ----------
    model : keras.Model
        Modified in place during the test; its weights are restored at the end.
    x : ndarray (n, F, T)
        dB spectrograms.
    c : ndarray of int (n,)
        The explained class per example (fixed across steps).
    explainers : dict name → ``f(model, x, c) -> (n, F, T)``
    max_layers : int, optional
        Stop after this many layers (from the top).

    Returns
    -------
    DataFrame with one row per step × explainer: ``step`` (0 = trained model),
    ``layer`` (the last layer randomised), ``explainer``, ``n`` (examples),
    ``n_degenerate`` (pairs with a constant map), ``status`` (``"degenerate"`` when the
    trained model's maps are constant for at least half the examples, else ``"ok"``), the
    mean over the defined pairs of :func:`map_similarity`'s fields, and for
    ``spearman_abs`` its standard error ``spearman_abs_se`` and normal 95 % interval
    ``spearman_abs_lo`` / ``spearman_abs_hi``.
    """
    layers = weighted_layers(model)[::-1]
    if max_layers is not None:
        layers = layers[:max_layers]
    saved = [np.array(w) for w in model.get_weights()]
    reference = {name: fn(model, x, c) for name, fn in explainers.items()}
    rows = []

    ref_degenerate = {name: np.mean([is_degenerate(a) for a in maps]) if len(maps) else 1.0
                      for name, maps in reference.items()}

    def record(step: int, layer_name: str):
        for name, fn in explainers.items():
            maps = reference[name] if step == 0 else fn(model, x, c)
            sims = pd.DataFrame([map_similarity(a, b) for a, b in zip(reference[name], maps)],
                                columns=["spearman_abs", "spearman", "ssim"])
            v = sims["spearman_abs"].to_numpy(dtype=np.float64)
            ok = v[np.isfinite(v)]
            se = float(ok.std(ddof=1) / np.sqrt(len(ok))) if len(ok) > 1 else float("nan")
            mean = {k: float(np.nanmean(col)) if np.isfinite(col).any() else float("nan")
                    for k, col in sims.items()}
            rows.append({"step": step, "layer": layer_name, "explainer": name, "n": int(len(v)),
                         "n_degenerate": int(len(v) - len(ok)),
                         "status": "degenerate" if ref_degenerate[name] >= 0.5 else "ok", **mean,
                         "spearman_abs_se": se, "spearman_abs_lo": mean["spearman_abs"] - 1.96 * se,
                         "spearman_abs_hi": mean["spearman_abs"] + 1.96 * se})
    try:
        record(0, "none")
        for step, layer in enumerate(layers, start=1):
            reinitialise(layer, seed=seed + 101 * step)
            record(step, layer.name)
    finally:
        model.set_weights(saved)
    return pd.DataFrame(rows)
