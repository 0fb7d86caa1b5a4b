"""``compact_cnn``: 16->32->64->128 Conv-BN-ReLU-MaxPool blocks + pooling (``pool``).

Channel counts scale with ``width`` (1.0 = the seed's 16..128).
"""
from __future__ import annotations

import keras

from audiolens.models.blocks import classifier_head, conv_stack, pool_features, spectrogram_input

__all__ = ["build"]


def build(*, input_shape, n_classes: int, width: float, dense_units: int, dropout: float,
          conv_dropout: float, pool: str, normalise: str, stats: dict | None) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB (arguments: see ``registry.build_model``)."""
    inputs, x = spectrogram_input(input_shape, normalise=normalise, stats=stats)
    x = conv_stack(x, channels=(16, 32, 64, 128), width=width, batchnorm=True, conv_dropout=conv_dropout)
    x = pool_features(x, pool)
    outputs = classifier_head(x, n_classes=n_classes, dense_units=dense_units, dropout=dropout)
    return keras.Model(inputs, outputs, name="compact_cnn")
