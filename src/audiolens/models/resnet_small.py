"""``resnet_small``: a conv stem and three residual stages (32/64/128 x ``width``), GAP head."""
from __future__ import annotations

import keras

from audiolens.models.blocks import classifier_head, pool_features, scaled, spectrogram_input

__all__ = ["build"]


def _block(x, filters: int, stride: int, name: str):
    """Basic residual block: two 3x3 Conv-BN, projection shortcut when the shape changes."""
    y = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                            name=f"{name}_conv1")(x)
    y = keras.layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        x = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_proj_bn")(x)
    y = keras.layers.Add(name=f"{name}_add")([x, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


BLOCKS_PER_STAGE = 1


def build(*, input_shape, n_classes: int, width: float, dense_units: int, dropout: float,
          conv_dropout: float, pool: str, normalise: str, stats: dict | None) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB (arguments: see ``registry.build_model``)."""
    inputs, x = spectrogram_input(input_shape, normalise=normalise, stats=stats)
    x = keras.layers.Conv2D(scaled(32, width), 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = keras.layers.MaxPooling2D(2, padding="same", name="stem_pool")(x)
    for s, base in enumerate((32, 64, 128)):
        for b in range(BLOCKS_PER_STAGE):
            x = _block(x, scaled(base, width), 2 if (s > 0 and b == 0) else 1, f"stage{s + 1}_{b + 1}")
        if conv_dropout > 0:
            x = keras.layers.SpatialDropout2D(conv_dropout, name=f"conv_dropout{s + 1}")(x)
    x = pool_features(x, pool)
    outputs = classifier_head(x, n_classes=n_classes, dense_units=dense_units, dropout=dropout)
    return keras.Model(inputs, outputs, name="resnet_small")
