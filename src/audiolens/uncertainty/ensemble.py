"""Deep ensemble: independently seeded models, averaged.

Members are trained with different seeds (see :mod:`audiolens.uncertainty.members`).
Each member's prediction is one deterministic forward pass; the member stack ``(M, n, C)`` is summarised with
:func:`~audiolens.uncertainty.decompose.summarise` exactly like MC-dropout passes.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from audiolens.models.predict import predict

__all__ = ["ensemble_samples"]


def ensemble_samples(models: Sequence, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Stack of member predictions.

    Parameters
    ----------
    models : sequence of keras.Model
        Members with the same input shape and number of classes.
    x : array (n, F, T, 1)

    Returns
    -------
    ndarray (M, n, C), float32
    """
    if not models:
        raise ValueError("an ensemble needs at least one member")
    out = []
    # Each member's predict function is traced once; TensorFlow's "frequent retracing" detector
    # counts those traces across members and would warn from the 5th member on.
    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)
    try:
        for k, model in enumerate(models):
            p = predict(model, x, batch_size=batch_size)
            if out and p.shape != out[0].shape:
                raise ValueError(f"ensemble member {k} predicts shape {p.shape}, member 0 {out[0].shape}")
            out.append(p)
    finally:
        tf_log.setLevel(level)
    return np.stack(out)
