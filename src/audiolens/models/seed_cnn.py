"""``seed_cnn``: the seeds' 4-conv CNN (Conv 32/64/128/256, 3x3 ReLU + MaxPool each).

Channel counts scale with ``width`` (0.5 -> 16/32/64/128, ~100k conv parameters); the
feature map is pooled as ``pool`` says (see :func:`audiolens.models.blocks.pool_features`;
``flatten`` is the seed notebook's choice).
"""
from __future__ import annotations

import keras

from audiolens.models.blocks import classifier_head, conv_stack, pool_features, spectrogram_input

__all__ = ["build"]


def build(*, input_shape, n_classes: int, width: float = 1.0, dense_units: int = 256,
          dropout: float = 0.6, conv_dropout: float = 0.0, normalise: str = "per_sample",
          stats: dict | None = None, pool: str = "gap", **_unused) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB."""
    inputs, x = spectrogram_input(input_shape, normalise=normalise, stats=stats)
    x = conv_stack(x, channels=(32, 64, 128, 256), width=width, batchnorm=False, conv_dropout=conv_dropout)
    x = pool_features(x, pool)
    outputs = classifier_head(x, n_classes=n_classes, dense_units=dense_units, dropout=dropout)
    return keras.Model(inputs, outputs, name="seed_cnn")
