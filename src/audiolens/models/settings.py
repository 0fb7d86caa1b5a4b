"""``ModelSettings``: the architecture settings, in a module that does not import Keras.

Stage scripts build it (``to_settings(params.model, ModelSettings)``) before TensorFlow is
configured; :func:`audiolens.models.registry.build_model` consumes it.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelSettings"]


@dataclass(frozen=True, kw_only=True)
class ModelSettings:
    """Architecture and its hyper-parameters (the ``model`` params).

    Attributes
    ----------
    arch : str
        One of :data:`ARCHS`.
    width : float
        Channel multiplier (not used by ``efficientnet_b0``).
    dense_units : int
        Size D of the ``embedding`` (``small_cnn``: channels of the last 1x1 conv).
    dropout : float
        Head dropout rate (``head_dropout``, also used by MC dropout), 0..1.
    conv_dropout : float
        Spatial dropout after each conv block, 0..1.
    weights : str or None
        Local weights file (``efficientnet_b0`` backbone or ``musicnn_vgg`` trunk; never downloaded).
    pool : {"gap", "time", "flatten"}
        How the last feature map becomes a vector (:func:`audiolens.models.blocks.pool_features`).
    freeze_blocks : int
        ``musicnn_vgg`` with weights: the first k pretrained blocks keep their weights (0..5).
    """

    arch: str
    width: float
    dense_units: int
    dropout: float
    conv_dropout: float
    weights: str | None
    pool: str
    freeze_blocks: int
