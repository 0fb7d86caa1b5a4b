"""``compact_cnn``: 16->32->64->128 Conv-BN-ReLU-MaxPool blocks + pooling (``pool``).

Channel counts scale with ``width`` (1.0 = the seed's 16..128).
"""
from __future__ import annotations

import keras

from audiolens.models.blocks import classifier_head, conv_stack, pool_features, spectrogram_input

__all__ = ["build"]


def build(*, input_shape, n_classes: int, width: float = 1.0, dense_units: int = 128,
          dropout: float = 0.5, conv_dropout: float = 0.0, normalise: str = "per_sample",
          stats: dict | None = None, pool: str = "gap", **_unused) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB."""
    inputs, x = spectrogram_input(input_shape, normalise=normalise, stats=stats)
    x = conv_stack(x, channels=(16, 32, 64, 128), width=width, batchnorm=True, conv_dropout=conv_dropout)
    x = pool_features(x, pool)
    outputs = classifier_head(x, n_classes=n_classes, dense_units=dense_units, dropout=dropout)
    return keras.Model(inputs, outputs, name="compact_cnn")
