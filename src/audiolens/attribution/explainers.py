"""One interface to every explainer: :func:`explain`.

``explain(method, model, x, class_index=None, **kw)`` takes dB spectrograms ``x`` of
shape ``(n, F, T)`` and returns attribution maps of the same shape for the predicted
class (or the chosen one). Positive values are evidence *for* the class.

Methods (``EXPLAINERS``):

- ``saliency``: vanilla gradient ``∂y_c/∂X`` (signed);
- ``smoothgrad``: mean gradient over Gaussian-perturbed copies;
- ``integrated_gradients``: path integral from a silent baseline (completeness:
  ``Σ A ≈ y_c(X) - y_c(baseline)``);
- ``occlusion``: drop in ``p_c`` when time×frequency patches are set to the baseline;
- ``gradcam``: :func:`audiolens.interpret.cam.grad_cam` (upsampled to ``F × T``);
- ``lime``: LIME on a time×frequency grid segmentation (not superpixels);
- ``shap``: SHAP ``GradientExplainer`` (expected gradients) with a background drawn from train.

``y_c`` of the gradient methods and SHAP is the log-odds ``log p_c / (1 - p_c)`` by
default (``target="log_odds"``: contrastive, not saturating; ``"logits"`` for the logit
``z_c`` alone, ``"probs"`` for ``p_c``); occlusion and LIME always use ``p_c``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from audiolens.interpret.common import as_batch
from audiolens.uncertainty.mc_dropout import predict_probs as _predict_probs

__all__ = ["EXPLAINERS", "explain", "predict_probs", "resolve_classes"]

EXPLAINERS = ("saliency", "smoothgrad", "integrated_gradients", "occlusion", "gradcam", "lime", "shap")


def predict_probs(model, x: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
    """Class probabilities ``(n, K)`` of dB spectrograms ``(n, F, T)`` (inference mode)."""
    x4 = as_batch(model, x)
    if len(x4) == 0:
        return np.zeros((0, int(model.outputs[0].shape[-1])), dtype=np.float32)
    return _predict_probs(model, x4, batch_size=batch_size)


def resolve_classes(model, x: np.ndarray, class_index=None, *, probs: np.ndarray | None = None) -> np.ndarray:
    """The explained class per example: the predicted one when ``class_index`` is None.

    ``class_index`` may be an int (same class for all) or an array of shape (n,).
    """
    n = len(x)
    n_classes = int(model.outputs[0].shape[-1])
    if class_index is None:
        p = predict_probs(model, x) if probs is None else probs
        return np.asarray(p).argmax(axis=1).astype(int)
    c = np.broadcast_to(np.asarray(class_index, dtype=int), (n,)).copy()
    if (c < 0).any() or (c >= n_classes).any():
        raise ValueError(f"class_index must be in [0, {n_classes}), got {np.unique(c).tolist()}")
    return c


def _registry() -> dict[str, Callable]:
    from audiolens.interpret import gradients, perturbation, shap_explainer

    def gradcam(model, x, c, **kw):
        from audiolens.interpret.cam import grad_cam
        return np.asarray(grad_cam(model, x, class_index=c, **kw), dtype=np.float32)

    return {
        "saliency": gradients.saliency,
        "smoothgrad": gradients.smoothgrad,
        "integrated_gradients": gradients.integrated_gradients,
        "occlusion": perturbation.occlusion,
        "gradcam": gradcam,
        "lime": perturbation.lime_grid,
        "shap": shap_explainer.shap_gradient,
    }


def explain(method: str, model, x: np.ndarray, *, class_index=None, **kw) -> np.ndarray:
    """Attribution maps of dB spectrograms for one class per example.

    Parameters
    ----------
    method : str
        One of ``EXPLAINERS``.
    model : keras.Model
        A model following the contract (input ``(F, T, 1)`` dB, ``logits`` → ``probs``).
    x : ndarray, shape (n, F, T)
        dB spectrograms.
    class_index : int or array (n,), optional
        Class to explain; default the predicted class.
    **kw
        Method options (see each function in ``gradients``, ``perturbation``,
        ``shap_explainer``, ``cam``); ``shap`` needs ``background=(m, F, T)``.

    Returns
    -------
    ndarray, float32, shape (n, F, T)
    """
    table = _registry()
    if method not in table:
        raise ValueError(f"unknown explainer {method!r}; known: {', '.join(EXPLAINERS)}")
    x = as_batch(model, x)[..., 0]
    c = resolve_classes(model, x, class_index)
    if len(x) == 0:
        return np.zeros(x.shape, dtype=np.float32)
    out = np.asarray(table[method](model, x, c, **kw), dtype=np.float32)
    if out.shape != x.shape:
        raise RuntimeError(f"explainer {method!r} returned shape {out.shape}, expected {x.shape}")
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
