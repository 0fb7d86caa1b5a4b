"""``efficientnet_b0``: Keras applications' EfficientNet-B0 backbone on a 1-channel spectrogram.

The normalised spectrogram is repeated to 3 channels and mapped to roughly image range
(``x * 64 + 128``) because the backbone starts with its own ImageNet rescaling. Weights
are random (``weights=None``) or read from a **local** file (``.h5`` / ``.weights.h5``, e.g.
the no-top ImageNet file); nothing is ever downloaded. ``width`` is the backbone's
width coefficient (1.0 = the published B0).
"""
from __future__ import annotations

from pathlib import Path

import keras

from audiolens.models.blocks import classifier_head, pool_features, spectrogram_input

__all__ = ["build"]

MIN_SIDE = 32


def build(*, input_shape, n_classes: int, width: float = 1.0, dense_units: int = 128,
          dropout: float = 0.5, normalise: str = "per_sample", stats: dict | None = None,
          weights: str | None = None, pool: str = "gap", **_unused) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB, both sides >= 32."""
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
