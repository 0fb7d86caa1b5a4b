"""``efficientnet_b0``: Keras applications' EfficientNet-B0 backbone on a 1-channel spectrogram.

The normalised spectrogram is repeated to 3 channels and mapped to roughly image range
(``x * 64 + 128``) because the backbone starts with its own ImageNet rescaling. Weights
are random (``weights=None``) or read from a **local** file (``.h5`` / ``.weights.h5``, e.g.
the no-top ImageNet file); nothing is ever downloaded. The backbone has the published B0
widths (``width`` is not used).
"""
from __future__ import annotations

from pathlib import Path

import keras

from audiolens.errors import ParameterError
from audiolens.models.blocks import classifier_head, pool_features, spectrogram_input

__all__ = ["build"]

MIN_SIDE = 32


def build(*, input_shape, n_classes: int, width: float, dense_units: int, dropout: float,
          conv_dropout: float, pool: str, normalise: str, stats: dict | None,
          weights: str | None) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB, both sides >= 32.

    ``width`` is not used (the published B0 widths); ``conv_dropout`` must be 0 (the
    backbone has its own dropout).
    """
    if conv_dropout:
        raise ParameterError(f"efficientnet_b0 has no conv_dropout (got {conv_dropout}); use 0")
    f, t = int(input_shape[0]), int(input_shape[1])
    if min(f, t) < MIN_SIDE:
        raise ValueError(f"efficientnet_b0 needs both input sides >= {MIN_SIDE}, got (F={f}, T={t})")
    if weights is not None:
        if weights == "imagenet":
            raise ValueError("model.weights: 'imagenet' would download weights; give a local file "
                             "path to the no-top EfficientNetB0 weights instead")
        if not Path(weights).is_file():
            raise FileNotFoundError(f"model.weights: file not found: {weights}")

    inputs, x = spectrogram_input(input_shape, normalise=normalise, stats=stats)
    x = keras.layers.Concatenate(axis=-1, name="to_rgb")([x, x, x])
    x = keras.layers.Rescaling(64.0, offset=128.0, name="to_image_range")(x)
    backbone = keras.applications.EfficientNetB0(include_top=False, weights=None,
                                                 input_shape=(f, t, 3), pooling=None)
    if weights is not None:
        backbone.load_weights(weights)
    x = backbone(x)
    x = pool_features(x, pool)
    outputs = classifier_head(x, n_classes=n_classes, dense_units=dense_units, dropout=dropout)
    return keras.Model(inputs, outputs, name="efficientnet_b0")
