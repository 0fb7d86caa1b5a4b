"""Deep ensemble: independently seeded models, averaged.

Members are trained with different seeds (see :mod:`audiolens.uncertainty.members`).
Each member's prediction is one deterministic forward pass; the member stack ``(M, n, C)`` is summarised with
:func:`~audiolens.uncertainty.decompose.summarise` exactly like MC-dropout passes.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from audiolens.uncertainty.mc_dropout import predict_probs

__all__ = ["ensemble_samples"]

log = logging.getLogger(__name__)


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
    for k, model in enumerate(models):
        p = predict_probs(model, x, batch_size=batch_size)
        if out and p.shape != out[0].shape:
            raise ValueError(f"ensemble member {k} predicts shape {p.shape}, member 0 {out[0].shape}")
        out.append(p)
    return np.stack(out)
