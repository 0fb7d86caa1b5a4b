"""Gradient explainers written with ``tf.GradientTape``: saliency, SmoothGrad, Integrated Gradients.

All take dB spectrograms ``x`` of shape ``(n, F, T)`` and the explained class per example
``c`` (ints, shape ``(n,)``) and return signed maps ``(n, F, T)`` in units of
``y_c`` per dB (saliency, SmoothGrad) or of ``y_c`` (IG).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import tensorflow as tf

from audiolens.models.introspect import logits_model

__all__ = ["head", "gradient_fn", "saliency", "smoothgrad", "integrated_gradients", "baseline_of"]

Target = Literal["log_odds", "logits", "probs"]


def _log_odds(z):
    """``log p_k / (1 - p_k) = z_k - logsumexp_{j != k} z_j`` for every class k, shape (b, K)."""
    from keras import ops

    z = ops.cast(z, "float32")   # mixed-precision models: no float16 overflow of the mask
    k = ops.shape(z)[-1]
    others = ops.logsumexp(ops.expand_dims(z, 1) + ops.eye(k, dtype=z.dtype) * -1e9, axis=-1)
    return z - others


def head(model, target: Target = "log_odds"):
    """The model whose output is explained, ``(b, F, T, 1) -> (b, K)``.

    ``log_odds``: ``log p_c / (1 - p_c)`` from the logits — contrastive (evidence for c
    *against* the other classes) and not saturating; ``logits``: the pre-softmax logit
    ``z_c`` alone; ``probs``: the softmax probability ``p_c`` (saturates when confident).
    """
    if target == "log_odds":
        import keras

        lm = logits_model(model)
        return keras.Model(lm.inputs, keras.layers.Lambda(_log_odds, name="log_odds")(lm.outputs[0]))
    if target == "logits":
        return logits_model(model)
    if target == "probs":
        return model
    raise ValueError(f"target must be 'log_odds', 'logits' or 'probs', got {target!r}")


def gradient_fn(model, target: Target = "log_odds"):
    """A compiled ``(x4 (b, F, T, 1), c (b,)) -> (y_c (b,), ∂y_c/∂x (b, F, T))`` function."""
    net = head(model, target)

    @tf.function(reduce_retracing=True)
    def fn(x4, c):
        with tf.GradientTape() as tape:
            tape.watch(x4)
            out = tf.cast(net(x4, training=False), tf.float32)
            sel = tf.gather(out, c, axis=1, batch_dims=1)
        return sel, tape.gradient(sel, x4)[..., 0]
    return fn


def _batched(fn, x: np.ndarray, c: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, gs = [], []
    for i in range(0, len(x), batch_size):
        y, g = fn(tf.constant(x[i:i + batch_size, ..., None], tf.float32),
                  tf.constant(c[i:i + batch_size], tf.int32))
        ys.append(y.numpy())
        gs.append(g.numpy())
    return np.concatenate(ys), np.concatenate(gs)


def saliency(model, x: np.ndarray, c: np.ndarray, *, target: Target = "log_odds",
             batch_size: int = 32) -> np.ndarray:
    """Vanilla gradient ``∂y_c/∂X`` (signed), shape ``(n, F, T)``."""
    return _batched(gradient_fn(model, target), x, c, batch_size)[1]


def smoothgrad(model, x: np.ndarray, c: np.ndarray, *, n_samples: int = 16, noise_level: float = 0.1,
               target: Target = "log_odds", seed: int = 0, batch_size: int = 32) -> np.ndarray:
    """SmoothGrad: mean gradient over ``n_samples`` copies ``X + N(0, σ²)``.

    ``σ = noise_level · (max X - min X)`` per example (dB).
    """
    if n_samples < 1:
        raise ValueError(f"smoothgrad n_samples must be >= 1, got {n_samples}")
    fn = gradient_fn(model, target)
    rng = np.random.default_rng(seed)
    out = np.empty(x.shape, dtype=np.float32)
    for i, xi in enumerate(x):
        sigma = noise_level * float(xi.max() - xi.min())
        noisy = xi[None] + rng.normal(0.0, sigma, size=(n_samples,) + xi.shape).astype(np.float32)
        out[i] = _batched(fn, noisy, np.full(n_samples, c[i]), batch_size)[1].mean(axis=0)
    return out


def baseline_of(x: np.ndarray, baseline: float | str = "min") -> np.ndarray:
    """A constant baseline spectrogram per example: its minimum (``"min"``, silence) or a dB value."""
    if baseline == "min":
        return np.broadcast_to(x.reshape(len(x), -1).min(axis=1)[:, None, None], x.shape).astype(np.float32)
    if isinstance(baseline, str):
        raise ValueError(f"baseline must be 'min' or a dB value, got {baseline!r}")
    return np.full(x.shape, float(baseline), dtype=np.float32)


def integrated_gradients(model, x: np.ndarray, c: np.ndarray, *, steps: int = 32,
                         baseline: float | str = "min", target: Target = "log_odds",
                         batch_size: int = 32, return_delta: bool = False, diagnostics: dict | None = None):
    """Integrated Gradients along the straight path from a constant baseline (trapezoid rule).

    Parameters
    ----------
    steps : int
        Number of path intervals (``steps + 1`` gradient evaluations per example).
    baseline : "min" or float
        Per-example minimum (a silent spectrogram) or a dB value.
    return_delta : bool
        Also return ``(Σ A - (y_c(X) - y_c(baseline)))`` per example (completeness error).
    diagnostics : dict, optional
        Filled with ``completeness_error`` (that difference, ``(n,)``) and ``delta_f``
        (``y_c(X) - y_c(baseline)``, ``(n,)``) per example.

    Returns
    -------
    ndarray (n, F, T)[, ndarray (n,)]
    """
    if steps < 1:
        raise ValueError(f"integrated_gradients steps must be >= 1, got {steps}")
    fn = gradient_fn(model, target)
    base = baseline_of(x, baseline)
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)[:, None, None]
    out = np.empty(x.shape, dtype=np.float32)
    delta, delta_f = np.empty(len(x)), np.empty(len(x))
    for i in range(len(x)):
        path = base[i][None] + alphas * (x[i] - base[i])[None]
        y, g = _batched(fn, path, np.full(len(path), c[i]), batch_size)
        avg = (0.5 * (g[:-1] + g[1:])).mean(axis=0)
        out[i] = (x[i] - base[i]) * avg
        delta_f[i] = float(y[-1] - y[0])
        delta[i] = float(out[i].sum(dtype=np.float64)) - delta_f[i]
    if diagnostics is not None:
        diagnostics.update(completeness_error=delta, delta_f=delta_f)
    return (out, delta) if return_delta else out
