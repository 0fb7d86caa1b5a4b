"""Class activation maps on spectrograms: CAM (GAP -> linear head) and Grad-CAM (any model).

Both maps live on the feature grid of a 4-D layer (by default the model contract's
:func:`~audiolens.models.introspect.last_conv_layer`) and are bilinearly upsampled to the
input spectrogram's ``(F, T)`` grid, so they overlay the dB spectrogram directly.

For a model whose feature map reaches the logits only through global average pooling
and linear layers, ``grad_cam(...) == cam(...) / (h * w)`` exactly (``h, w``: feature grid).
CAM also covers the time-pooled head (``small_cnn`` with ``pool: time``: mean over time of
each frequency row, flattened, then linear), whose class weights differ per frequency row;
there the map still averages exactly to the logit minus its bias, but Grad-CAM (one
gradient-pooled weight per channel) is no longer proportional to it.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from audiolens.errors import ModelError
from audiolens.interpret.common import as_batch, logits_layer, producer, tap_model
from audiolens.models.introspect import last_conv_layer

__all__ = ["CamNotApplicable", "grad_cam", "cam", "cam_head", "normalise_maps"]

_LINEAR_PASS = (keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.GaussianNoise,
                keras.layers.GaussianDropout, keras.layers.AlphaDropout)


class CamNotApplicable(ModelError):
    """The model's head is not ``GAP -> linear`` so CAM is undefined (use Grad-CAM)."""


def _resolve_layer(model: keras.Model, layer) -> keras.layers.Layer:
    if layer is None:
        return last_conv_layer(model)
    if isinstance(layer, str):
        return model.get_layer(layer)
    return layer


def _class_indices(class_index, n: int, n_classes: int) -> np.ndarray | None:
    if class_index is None:
        return None
    idx = np.asarray(class_index)
    if idx.ndim == 0:
        idx = np.full(n, int(idx))
    if idx.shape != (n,) or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"class_index must be None or an int array of shape ({n},), got "
                         f"{idx.dtype} {idx.shape}")
    if idx.min() < 0 or idx.max() >= n_classes:
        raise ValueError(f"class_index values must lie in [0, {n_classes}), got "
                         f"[{idx.min()}, {idx.max()}]")
    return idx.astype(np.int32)


def _upsample(maps: tf.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(b, h, w) -> (b, F, T) float32, bilinear."""
    up = tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]
    return np.asarray(up, dtype=np.float32)


def _target_score(logits: tf.Tensor, chosen: tf.Tensor, target: str) -> tf.Tensor:
    """``y_c`` per row of ``logits`` ``(b, K)``: the logit, the log-odds or the softmax probability."""
    z_c = tf.gather(logits, chosen, axis=1, batch_dims=1)
    if target == "logits":
        return z_c
    if target == "probs":
        return tf.gather(tf.nn.softmax(logits, axis=-1), chosen, axis=1, batch_dims=1)
    others = logits - 1e9 * tf.one_hot(chosen, tf.shape(logits)[-1], dtype=logits.dtype)
    return z_c - tf.reduce_logsumexp(others, axis=-1)     # log p_c / (1 - p_c)


def grad_cam(model: keras.Model, x: np.ndarray, *, class_index=None, layer=None,
             signed: bool = False, batch_size: int = 32, target: str = "logits") -> np.ndarray:
    """Grad-CAM maps of dB spectrograms.

    Weights each channel ``k`` of the feature map ``A`` (layer output ``(h, w, K)``) by the
    spatial mean of ``d y_c / d A_k`` and sums over channels. ``y_c`` is the pre-softmax
    logit (``target="logits"``, the original Grad-CAM, no saturation), the log-odds
    ``log p_c / (1 - p_c)`` (``"log_odds"``, what the attribution stage's gradient methods
    explain) or the probability (``"probs"``).

    Parameters
    ----------
    model : keras.Model
        A model satisfying the model contract.
    x : ndarray, shape (n, F, T) or (n, F, T, 1)
        dB spectrograms.
    class_index : None or int array, shape (n,)
        Class explained per example; ``None`` = the predicted class.
    layer : None, str or Layer
        A layer with 4-D output; default :func:`last_conv_layer`.
    signed : bool
        Keep negative evidence (no ReLU).
    batch_size : int
    target : {"logits", "log_odds", "probs"}

    Returns
    -------
    ndarray, float32, shape (n, F, T)
        Maps upsampled to the input grid (>= 0 unless ``signed``), in units of ``y_c`` per
        feature cell (not normalised; see :func:`normalise_maps`).
    """
    if target not in ("logits", "log_odds", "probs"):
        raise ValueError(f"grad_cam target must be 'logits', 'log_odds' or 'probs', got {target!r}")
    xb = as_batch(model, x)
    n, f, t = xb.shape[:3]
    lay = _resolve_layer(model, layer)
    tap = tap_model(model, [lay, logits_layer(model)])
    if len(tap.outputs[0].shape) != 4:
        raise ValueError(f"Grad-CAM layer {lay.name!r} must have a 4-D output (batch, h, w, c), "
                         f"got shape {tuple(tap.outputs[0].shape)}")
    idx = _class_indices(class_index, n, int(tap.outputs[1].shape[-1]))
    out = np.empty((n, f, t), dtype=np.float32)
    for s in range(0, n, batch_size):
        xt = tf.convert_to_tensor(xb[s:s + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(xt)
            feats, logits = tap(xt, training=False)
            logits = tf.cast(logits, tf.float32)
            chosen = (tf.argmax(logits, axis=-1, output_type=tf.int32) if idx is None
                      else tf.constant(idx[s:s + batch_size]))
            score = tf.reduce_sum(_target_score(logits, chosen, target))
        grads = tape.gradient(score, feats)  # w.r.t. the layer's own tensor (maybe float16)
        if grads is None:
            raise ValueError(f"logits do not depend on layer {lay.name!r}")
        feats, grads = tf.cast(feats, tf.float32), tf.cast(grads, tf.float32)
        alpha = tf.reduce_mean(grads, axis=(1, 2))
        maps = tf.einsum("bhwk,bk->bhw", feats, alpha)
        if not signed:
            maps = tf.nn.relu(maps)
        out[s:s + batch_size] = _upsample(maps, (f, t))
    return out


def _time_pool(lay) -> bool:
    """``lay`` is an ``AveragePooling2D`` over the whole time axis only (pool ``(1, T')``, output ``T' = 1``)."""
    if not isinstance(lay, keras.layers.AveragePooling2D):
        return False
    shape = tuple(lay.output.shape)
    return tuple(lay.pool_size)[0] == 1 and shape[2] == 1 and tuple(lay.strides)[0] == 1


def cam_head(model: keras.Model) -> tuple[keras.layers.Layer, np.ndarray]:
    """Feature layer and effective class weights of a ``GAP -> linear`` (or time-pooled) head.

    Walks back from ``logits`` through linear layers (linear ``Dense``, inference-mode
    ``BatchNormalization``, dropout/noise layers, linear ``Activation``) to a
    ``GlobalAveragePooling2D``, or to a ``Flatten`` of an ``AveragePooling2D`` over the whole
    time axis (``small_cnn`` ``pool: time``); the product of their matrices is the effective
    weight.

    Returns
    -------
    layer : Layer
        The layer whose 4-D output ``(n, h, w, K)`` the head pools.
    weights : ndarray, shape (K, C) or (h, K, C)
        Effective weight of feature channel ``k`` for class ``c`` (biases dropped: they
        are constant over the map); ``(h, K, C)`` for the time-pooled head, one weight
        matrix per frequency row, scaled by ``h`` so that the map's mean over ``(f, t)``
        is the logit minus its bias, as for GAP.

    Raises
    ------
    CamNotApplicable
        Naming the first non-linear layer between the pooling and ``logits``.
    """
    def linear(layer) -> bool:
        act = getattr(layer, "activation", None)
        return act is None or getattr(act, "__name__", "") == "linear"

    lay = logits_layer(model)
    if not isinstance(lay, keras.layers.Dense) or not linear(lay):
        raise CamNotApplicable(f"layer {lay.name!r} is not a linear Dense layer")
    w = np.asarray(lay.kernel, dtype=np.float64)
    lay = producer(lay)
    while not isinstance(lay, keras.layers.GlobalAveragePooling2D):
        if isinstance(lay, keras.layers.Flatten) and _time_pool(producer(lay)):
            pool = producer(lay)
            h, _, k = tuple(pool.output.shape)[1:]
            return producer(pool), (h * w.reshape(h, k, -1)).astype(np.float32)
        if isinstance(lay, keras.layers.Dense) and linear(lay):
            w = np.asarray(lay.kernel, dtype=np.float64) @ w
        elif isinstance(lay, keras.layers.BatchNormalization):
            scale = 1.0 / np.sqrt(np.asarray(lay.moving_variance, np.float64) + lay.epsilon)
            if lay.scale:
                scale = scale * np.asarray(lay.gamma, np.float64)
            w = scale[:, None] * w
        elif isinstance(lay, _LINEAR_PASS) or (isinstance(lay, keras.layers.Activation) and linear(lay)):
            pass
        else:
            raise CamNotApplicable(
                f"CAM needs a GAP -> linear head, but layer {lay.name!r} "
                f"({type(lay).__name__}{', ' + lay.activation.__name__ if hasattr(lay, 'activation') else ''}) "
                f"sits between the pooling and 'logits' of model {model.name!r}; use grad_cam instead")
        lay = producer(lay)
    if getattr(lay, "keepdims", False):
        raise CamNotApplicable(f"GlobalAveragePooling2D {lay.name!r} keeps dims; expected a flat head")
    return producer(lay), w.astype(np.float32)


def cam(model: keras.Model, x: np.ndarray, *, class_index=None, signed: bool = False,
        batch_size: int = 32) -> np.ndarray:
    """Class activation maps ``sum_k W[k, c] * A_k`` for a ``GAP -> linear`` (or time-pooled) model.

    For the time-pooled head the weight depends on the frequency row:
    ``sum_k W[f, k, c] * A_k[f, t]`` (see :func:`cam_head`).

    Parameters
    ----------
    model : keras.Model
    x : ndarray, shape (n, F, T) or (n, F, T, 1)
        dB spectrograms.
    class_index : None or int array, shape (n,)
        ``None`` = predicted class.
    signed : bool
        Keep negative evidence (no ReLU).

    Returns
    -------
    ndarray, float32, shape (n, F, T)

    Raises
    ------
    CamNotApplicable
        When the head is not ``GAP -> linear`` (e.g. a ReLU ``Dense`` embedding).
    """
    feat_layer, w = cam_head(model)
    xb = as_batch(model, x)
    n, f, t = xb.shape[:3]
    tap = tap_model(model, [feat_layer, logits_layer(model)])
    idx = _class_indices(class_index, n, w.shape[1])
    out = np.empty((n, f, t), dtype=np.float32)
    for s in range(0, n, batch_size):
        feats, logits = tap(xb[s:s + batch_size], training=False)
        feats = np.asarray(feats, dtype=np.float32)
        chosen = np.argmax(np.asarray(logits), axis=-1) if idx is None else idx[s:s + batch_size]
        if w.ndim == 2:
            maps = np.einsum("bhwk,kb->bhw", feats, w[:, chosen])
        else:  # time-pooled head: a weight matrix per frequency row
            maps = np.einsum("bhwk,hkb->bhw", feats, w[..., chosen])
        if not signed:
            maps = np.maximum(maps, 0.0)
        out[s:s + batch_size] = _upsample(tf.constant(maps), (f, t))
    return out


def normalise_maps(maps: np.ndarray, *, signed: bool = False) -> np.ndarray:
    """Scale each map to ``[0, 1]`` (or ``[-1, 1]`` when signed) by its max |value|.

    All-zero maps stay zero. Shape ``(n, F, T)`` in and out.
    """
    maps = np.asarray(maps, dtype=np.float32)
    peak = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    peak = np.where(peak > 0, peak, 1.0).reshape(-1, *([1] * (maps.ndim - 1)))
    out = maps / peak
    return out if signed else np.clip(out, 0.0, 1.0)
