"""SHAP expected gradients (``shap.GradientExplainer``) for spectrogram models."""
from __future__ import annotations

import numpy as np

from audiolens.attribution.gradients import Target, head

__all__ = ["shap_gradient"]


def shap_gradient(model, x: np.ndarray, c: np.ndarray, *, background: np.ndarray, n_samples: int = 64,
                  target: Target = "log_odds", seed: int = 0, batch_size: int = 16) -> np.ndarray:
    """SHAP values of the explained class from ``shap.GradientExplainer``.

    Parameters
    ----------
    background : ndarray, shape (m, F, T)
        Reference dB spectrograms (drawn from the train split); their expectation
        is the baseline the SHAP values are relative to.
    n_samples : int
        Expected-gradient samples per example (``nsamples`` in shap).
    target : "log_odds", "logits" or "probs"
        Explained output (see :func:`audiolens.attribution.gradients.head`).

    Returns
    -------
    ndarray (n, F, T)
    """
    import shap

    bg = np.asarray(background, dtype=np.float32)
    if bg.ndim != 3 or bg.shape[1:] != x.shape[1:]:
        raise ValueError(f"shap background must be (m, F, T) = (m, {x.shape[1]}, {x.shape[2]}), got {bg.shape}")
    if len(bg) == 0:
        raise ValueError("shap background is empty (no train examples drawn)")
    explainer = shap.GradientExplainer(head(model, target), bg[..., None], batch_size=batch_size)
    out = np.empty(x.shape, dtype=np.float32)
    for k in range(len(x)):
        vals = explainer.shap_values(x[k:k + 1, ..., None], nsamples=n_samples, rseed=seed + k)
        vals = np.asarray(vals[c[k]] if isinstance(vals, list) else vals[..., c[k]])
        out[k] = vals.reshape(x.shape[1:])
    return out
