"""``compact_cnn``: 16->32->64->128 Conv-BN-ReLU-MaxPool blocks + pooling (``pool``).

Channel counts scale with ``width`` (1.0 = the seed's 16..128).
"""
from __future__ import annotations

import keras

from audiolens.models.blocks import classifier_head, pool_features, scaled, spectrogram_input

__all__ = ["build"]


def build(*, input_shape, n_classes: int, width: float = 1.0, dense_units: int = 128,
          dropout: float = 0.5, conv_dropout: float = 0.0, normalise: str = "per_sample",
          stats: dict | None = None, pool: str = "gap", **_unused) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB."""
    inputs, x = spectrogram_input(input_shape, normalise=normalise, stats=stats)
    for i, base in enumerate((16, 32, 64, 128)):
        x = keras.layers.Conv2D(scaled(base, width), 3, padding="same", use_bias=False,
                                name=f"conv{i + 1}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{i + 1}")(x)
        if conv_dropout > 0:
            x = keras.layers.SpatialDropout2D(conv_dropout, name=f"conv_dropout{i + 1}")(x)
    x = pool_features(x, pool)
    outputs = classifier_head(x, n_classes=n_classes, dense_units=dense_units, dropout=dropout)
    return keras.Model(inputs, outputs, name="compact_cnn")
