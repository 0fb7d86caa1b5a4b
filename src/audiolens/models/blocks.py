"""Pieces every architecture shares: the normalised input and the contract head.

The head is a plain chain ``embedding -> head_dropout -> logits -> probs`` so the
uncertainty stage can split a model at ``head_dropout`` for MC dropout.
"""
from __future__ import annotations

import keras

from audiolens.models.introspect import EMBEDDING, HEAD_DROPOUT, LOGITS, PROBS
from audiolens.models.layers import normalisation_layer

__all__ = ["HEAD_DROPOUT", "POOLS", "spectrogram_input", "conv_stack", "pool_features", "classifier_head", "scaled"]

POOLS = ("gap", "time", "flatten")


def scaled(base: int, width: float) -> int:
    """Channel count ``base * width`` rounded, at least 4."""
    return max(4, int(round(base * width)))


def spectrogram_input(input_shape: tuple[int, int, int], *, normalise: str,
                      stats: dict | None = None):
    """Input ``(F, T, 1)`` dB tensor and its normalised version.

    Returns
    -------
    inputs : KerasTensor
        The model input named ``"spectrogram"``.
    x : KerasTensor
        After the normalisation layer (identity for ``normalise="none"``).
    """
    if len(input_shape) != 3 or input_shape[-1] != 1:
        raise ValueError(f"input_shape must be (F, T, 1), got {tuple(input_shape)}")
    inputs = keras.Input(shape=tuple(int(v) for v in input_shape), name="spectrogram")
    layer = normalisation_layer(normalise, stats=stats)
    return inputs, (layer(inputs) if layer is not None else inputs)


def conv_stack(x, *, channels: tuple[int, ...], width: float, batchnorm: bool, conv_dropout: float):
    """Blocks of 3x3 Conv (+ BatchNorm) + ReLU + 2x2 MaxPool (+ SpatialDropout), one per channel count.

    Layers are named ``conv{i}``, ``bn{i}``, ``relu{i}``, ``pool{i}``, ``conv_dropout{i}`` (1-based);
    without BatchNorm the ReLU is the convolution's own activation.
    """
    for i, base in enumerate(channels, start=1):
        filters = scaled(base, width)
        if batchnorm:
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
            x = keras.layers.ReLU(name=f"relu{i}")(x)
        else:
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
        if conv_dropout > 0:
            x = keras.layers.SpatialDropout2D(conv_dropout, name=f"conv_dropout{i}")(x)
    return x


def pool_features(x, pool: str):
    """Feature map ``(batch, F', T', C)`` -> vector.

    ``gap``: mean over frequency and time ``(C,)``; ``time``: mean over time only, keeping
    where in frequency the energy is (pitch, formants: speaker cues) ``(F' * C,)``;
    ``flatten``: everything ``(F' * T' * C,)`` (the seed notebook; many parameters).
    """
    if pool == "gap":
        return keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if pool == "time":
        x = keras.layers.AveragePooling2D(pool_size=(1, int(x.shape[2])), name="time_pool")(x)
        return keras.layers.Flatten(name="flatten")(x)
    if pool == "flatten":
        return keras.layers.Flatten(name="flatten")(x)
    raise ValueError(f"pool: unknown value {pool!r} (allowed: {', '.join(POOLS)})")


def classifier_head(x, *, n_classes: int, dense_units: int, dropout: float):
    """Pooled features ``(batch, C)`` -> ``embedding`` -> ``head_dropout`` -> ``logits`` -> ``probs``.

    ``logits`` and ``probs`` compute in float32 even under mixed precision.
    """
    if n_classes < 2:
        raise ValueError(f"need at least 2 classes, got {n_classes}")
    x = keras.layers.Dense(dense_units, activation="relu", name=EMBEDDING)(x)
    x = keras.layers.Dropout(dropout, name=HEAD_DROPOUT)(x)
    x = keras.layers.Dense(n_classes, name=LOGITS, dtype="float32")(x)
    return keras.layers.Activation("softmax", name=PROBS, dtype="float32")(x)
