"""``small_cnn``: a CNN for small datasets on CPU whose class activation maps are exact.

Four blocks of a 3x3 Conv-BatchNorm-ReLU (16/32/64/128 x ``width`` channels), 2x2 max
pooling and spatial dropout (``conv_dropout``) each (one conv per block: measured ~1.8x the
training throughput of two per block on a 2-core CPU, 64x126 input), then a 1x1
Conv-BatchNorm-ReLU to ``dense_units`` channels (``cam_conv``, the last feature map). The
head is global average pooling named ``embedding`` (no dense layer), ``head_dropout``, and
the linear ``logits``: the logit of class c is ``mean over (f, t) of w_c . A[f, t] + b_c``,
so CAM on ``cam_conv`` is the exact decomposition of the logit, not an approximation.

``pool="time"`` keeps where in frequency the evidence is: the ``embedding`` is the mean over
time only, flattened ``(F' * D,)``, and the logit of class c is
``sum over f of mean over t of w_{c,f} . A[f, t] + b_c`` -- a weight vector per frequency
row, still linear in the map, so CAM stays exact (``interpret.cam.cam_head`` returns
per-row weights). Environmental classes differ strongly by band, which a frequency-blind
GAP head cannot use directly.
"""
from __future__ import annotations

import keras

from audiolens.errors import ParameterError
from audiolens.models.blocks import scaled, spectrogram_input
from audiolens.models.introspect import EMBEDDING, HEAD_DROPOUT, LOGITS, PROBS

__all__ = ["build", "cam_head"]

CHANNELS = (16, 32, 64, 128)
# moving statistics settle within ~20 steps (Keras' 0.99 needs ~300): small datasets have ~20
# steps per epoch and early stopping may restore an early epoch, whose statistics must be usable
BN_MOMENTUM = 0.9
POOLS = ("gap", "time")


def _conv_bn_relu(x, filters: int, kernel: int, name: str):
    x = keras.layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def cam_head(x, *, n_classes: int, dense_units: int, dropout: float, pool: str):
    """Feature map ``(batch, F', T', C)`` -> ``probs``, linear in the ``cam`` map (CAM exact).

    A 1x1 Conv-BatchNorm-ReLU to ``dense_units`` channels (``cam_conv``), then ``embedding``:
    the mean over (f, t) (``pool="gap"``, ``(D,)``) or over t per frequency row
    (``pool="time"``, ``(F' * D,)``); then ``head_dropout``, linear ``logits`` and ``probs``.
    """
    if pool not in POOLS:
        raise ParameterError(f"the CAM head pools with one of {POOLS}; got pool={pool!r}")
    x = _conv_bn_relu(x, int(dense_units), 1, "cam")
    if pool == "gap":
        x = keras.layers.GlobalAveragePooling2D(name=EMBEDDING)(x)
    else:
        x = keras.layers.AveragePooling2D(pool_size=(1, int(x.shape[2])), name="time_pool")(x)
        x = keras.layers.Flatten(name=EMBEDDING)(x)
    x = keras.layers.Dropout(dropout, name=HEAD_DROPOUT)(x)
    x = keras.layers.Dense(n_classes, name=LOGITS, dtype="float32")(x)
    return keras.layers.Activation("softmax", name=PROBS, dtype="float32")(x)


def build(*, input_shape, n_classes: int, width: float, dense_units: int, dropout: float,
          conv_dropout: float, pool: str, normalise: str, stats: dict | None) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB (arguments: see ``registry.build_model``).

    ``pool``: ``"gap"`` (mean over frequency and time, embedding ``(D,)``) or ``"time"``
    (mean over time per frequency row, embedding ``(F' * D,)``, ``F' = ceil(F / 16)``); both
    heads are linear in the last feature map, which keeps CAM exact.
    """
    if pool not in POOLS:
        raise ParameterError(f"small_cnn pools with one of {POOLS} (the heads that keep CAM exact); got pool={pool!r}")
    if n_classes < 2:
        raise ParameterError(f"need at least 2 classes, got {n_classes}")
    inputs, x = spectrogram_input(input_shape, normalise=normalise, stats=stats)
    for i, base in enumerate(CHANNELS, start=1):
        x = _conv_bn_relu(x, scaled(base, width), 3, f"block{i}")
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
        if conv_dropout > 0:
            x = keras.layers.SpatialDropout2D(conv_dropout, name=f"conv_dropout{i}")(x)
    outputs = cam_head(x, n_classes=n_classes, dense_units=dense_units, dropout=dropout, pool=pool)
    return keras.Model(inputs, outputs, name="small_cnn")
