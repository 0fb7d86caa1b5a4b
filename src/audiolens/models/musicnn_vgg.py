"""``musicnn_vgg``: a pretrained spectrogram trunk (musicnn's VGG) under the CAM-exact head.

The trunk is the 5-block VGG of musicnn (Pons & Serra 2019; ISC licence), trained on
MagnaTagATune music tagging: per block a 3x3 Conv (128 channels, bias, ReLU), BatchNorm,
then max pooling -- ``(1, 4)`` over (frequency, time) with stride 2 after block 1, 2x2 after
blocks 2-4, none after block 5, whose map ``(F/16, T/16, 128)`` feeds
:func:`audiolens.models.small_cnn.cam_head` (1x1 ``cam`` conv, pooled ``embedding``, so CAM
stays exact and MC dropout splits at ``head_dropout`` as for every model). Its input BN is
kept as a fixed affine map of the already normalised spectrogram (``input_affine``:
``gamma * z + beta``), because the project feeds standardised dB where musicnn fed
standardised ``log10(1 + 10^4 S)``; both are level-free log scales.

Weights come from a **local** ``.npz`` (``model.weights``; the project vendors
``vendor/musicnn/mtt_vgg.npz``, written by ``vendor/musicnn/convert.py``); nothing is
downloaded. Without weights the same architecture starts from random initialisation. The
trunk was trained on 96 mel bands at 16 kHz (n_fft 512, hop 256): features of that kind
match what its filters saw. ``freeze_blocks`` keeps the first k blocks' weights fixed
(their BatchNorm in inference mode).
"""
from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

from audiolens.errors import ParameterError
from audiolens.models.blocks import scaled, spectrogram_input
from audiolens.models.small_cnn import BN_MOMENTUM, cam_head

__all__ = ["BLOCKS", "CHANNELS", "TRAINED_BANDS", "build", "read_weights"]

log = logging.getLogger(__name__)

BLOCKS = 5
CHANNELS = 128
MIN_SIDE = 16  # four stride-2 poolings
TRAINED_BANDS = 96  # mel bands of the spectrograms the weights were trained on (16 kHz, n_fft 512)
_BN = ("gamma", "beta", "moving_mean", "moving_variance")


def _expected_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {f"input_bn/{k}": (1,) for k in _BN}
    for i in range(1, BLOCKS + 1):
        shapes[f"block{i}_conv/kernel"] = (3, 3, 1 if i == 1 else CHANNELS, CHANNELS)
        shapes[f"block{i}_conv/bias"] = (CHANNELS,)
        shapes.update({f"block{i}_bn/{k}": (CHANNELS,) for k in _BN})
    return shapes


def read_weights(path: str | Path) -> dict[str, np.ndarray]:
    """The trunk's arrays from ``path`` (``.npz``), every key and shape checked.

    Raises
    ------
    ParameterError
        Naming ``model.weights``: the file is missing, not an ``.npz``, or lacks an array
        or has one of another shape.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"model.weights: file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k], dtype=np.float32) for k in z.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError ...
        raise ParameterError(f"model.weights: {path} is not a readable .npz ({exc})") from exc
    for key, shape in _expected_shapes().items():
        if key not in arrays:
            raise ParameterError(f"model.weights: {path} has no array {key!r} (not a musicnn_vgg trunk)")
        if arrays[key].shape != shape:
            raise ParameterError(f"model.weights: {path}: {key} has shape {arrays[key].shape}, expected {shape}")
    return arrays


def build(*, input_shape, n_classes: int, width: float, dense_units: int, dropout: float,
          conv_dropout: float, pool: str, normalise: str, stats: dict | None,
          weights: str | None, freeze_blocks: int) -> keras.Model:
    """Build the model; ``input_shape`` is ``(F, T, 1)`` dB, both sides >= 16.

    With ``weights`` the channel count is musicnn's (``width`` must be 1) and the input must
    be normalised (``per_sample`` or ``dataset``); ``freeze_blocks`` (0..5) needs weights.
    """
    f, t = int(input_shape[0]), int(input_shape[1])
    if min(f, t) < MIN_SIDE:
        raise ParameterError(f"musicnn_vgg needs both input sides >= {MIN_SIDE}, got (F={f}, T={t})")
    if not 0 <= freeze_blocks <= BLOCKS:
        raise ParameterError(f"model.freeze_blocks must be in 0..{BLOCKS}, got {freeze_blocks}")
    arrays = None
    if weights is not None:
        if width != 1.0:
            raise ParameterError(f"model.width must be 1 with pretrained musicnn_vgg weights (got {width})")
        if normalise == "none":
            raise ParameterError("features.normalise must be per_sample or dataset with pretrained "
                                 "musicnn_vgg weights (its filters expect standardised input)")
        arrays = read_weights(weights)
        if f != TRAINED_BANDS:
            log.warning("musicnn_vgg: the pretrained filters saw %d mel bands at 16 kHz; this input has F=%d "
                        "bins (features.kind: mel with n_mels: %d matches them)", TRAINED_BANDS, f, TRAINED_BANDS)
    elif freeze_blocks:
        raise ParameterError("model.freeze_blocks > 0 needs model.weights (freezing random filters)")
    inputs, x = spectrogram_input(input_shape, normalise=normalise, stats=stats)
    gamma, beta = (1.0, 0.0) if arrays is None else (float(arrays["input_bn/gamma"][0]),
                                                     float(arrays["input_bn/beta"][0]))
    x = keras.layers.Rescaling(gamma, offset=beta, name="input_affine")(x)
    trunk = []
    for i in range(1, BLOCKS + 1):
        conv = keras.layers.Conv2D(scaled(CHANNELS, width), 3, padding="same", activation="relu",
                                   name=f"block{i}_conv")
        bn = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_bn")
        x = bn(conv(x))
        trunk.append((i, conv, bn))
        if i == 1:
            x = keras.layers.MaxPooling2D((1, 4), strides=2, padding="same", name="pool1")(x)
        elif i < BLOCKS:
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
        if conv_dropout > 0 and i < BLOCKS:
            x = keras.layers.SpatialDropout2D(conv_dropout, name=f"conv_dropout{i}")(x)
    outputs = cam_head(x, n_classes=n_classes, dense_units=dense_units, dropout=dropout, pool=pool)
    model = keras.Model(inputs, outputs, name="musicnn_vgg")
    for i, conv, bn in trunk:
        if arrays is not None:
            conv.set_weights([arrays[f"block{i}_conv/kernel"], arrays[f"block{i}_conv/bias"]])
            bn.set_weights([arrays[f"block{i}_bn/{k}"] for k in _BN])
        if i <= freeze_blocks:
            conv.trainable = False
            bn.trainable = False
    return model
