"""``seed_cnn``: the seeds' 4-conv CNN (Conv 32/64/128/256, 3x3 ReLU + MaxPool each).

Channel counts scale with ``width`` (0.5 -> 16/32/64/128, ~100k conv parameters); the
feature map is pooled as ``pool`` says (see :func:`audiolens.models.blocks.pool_features`;
``flatten`` is the seed notebook's choice).
"""
from __future__ import annotations

import keras

from audiolens.models.blocks import classifier_head, conv_stack, pool_features, spectrogram_input

__all__ = ["build"]


def build(*, input_shape, n_classes: int, width: float, dense_units: int, dropout: float,
          conv_dropout: float, pool: str, normalise: str, stats: dict | None) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB (arguments: see ``registry.build_model``)."""
    inputs, x = spectrogram_input(input_shape, normalise=normalise, stats=stats)
    x = conv_stack(x, channels=(32, 64, 128, 256), width=width, batchnorm=False, conv_dropout=conv_dropout)
    x = pool_features(x, pool)
    outputs = classifier_head(x, n_classes=n_classes, dense_units=dense_units, dropout=dropout)
    return keras.Model(inputs, outputs, name="seed_cnn")
