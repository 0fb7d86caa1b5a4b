"""The explainers' one calling convention: :func:`explain` over the registry.

Every registered explainer is a function ``f(model, x, c, **options) -> maps`` with ``x``
the dB spectrograms ``(n, F, T)``, ``c`` the explained class per example (ints ``(n,)``)
and ``maps`` float ``(n, F, T)``; positive values are evidence *for* ``c``.
:func:`explain` checks the input, resolves ``c`` (the predicted class by default) and the
output shape. :data:`audiolens.attribution.registry.EXPLAINERS` is the only list of
explainer names (the config validates against it, the stage builds each explainer's options
from it):

- ``saliency``: vanilla gradient ``∂y_c/∂X`` (signed);
- ``smoothgrad``: mean gradient over Gaussian-perturbed copies;
- ``integrated_gradients``: path integral from a silent baseline (completeness:
  ``Σ A ≈ y_c(X) - y_c(baseline)``);
- ``occlusion``: drop in ``p_c`` when time×frequency patches are set to the baseline;
- ``gradcam``: :func:`audiolens.interpret.cam.grad_cam` (upsampled to ``F × T``);
- ``lime``: LIME on a time×frequency grid segmentation (not superpixels);
- ``shap``: SHAP ``GradientExplainer`` (expected gradients) with a background drawn from train.

``y_c`` of the gradient methods, Grad-CAM and SHAP is the log-odds ``log p_c / (1 - p_c)``
by default (``target="log_odds"``: contrastive, not saturating; ``"logits"`` for the logit
``z_c`` alone, ``"probs"`` for ``p_c``); occlusion and LIME always use ``p_c``.

An explainer's module (TensorFlow, LIME, SHAP) is loaded when it is first used.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from audiolens.attribution.registry import EXPLAINERS

__all__ = ["BATCH_SIZE", "explain", "gradcam", "probabilities", "resolve_classes"]

BATCH_SIZE = 64  # rows per forward pass when the attribution modules need probabilities


def gradcam(model, x: np.ndarray, c: np.ndarray, **options) -> np.ndarray:
    """Grad-CAM in the registry's calling convention; ``options`` go to :func:`audiolens.interpret.cam.grad_cam`."""
    from audiolens.interpret.cam import grad_cam

    return np.asarray(grad_cam(model, x, class_index=c, **options), dtype=np.float32)


def probabilities(model) -> Callable[[np.ndarray], np.ndarray]:
    """``f(x) -> p``: class probabilities ``(n, K)`` float32 of dB spectrograms ``x`` ``(n, F, T)``.

    Checks ``x`` against the model input and runs :func:`audiolens.models.predict.predict`
    in batches of :data:`BATCH_SIZE`.
    """
    from audiolens.interpret.common import as_batch
    from audiolens.models.predict import predict

    return lambda x: predict(model, as_batch(model, x), batch_size=BATCH_SIZE)


def resolve_classes(model, x: np.ndarray, class_index=None, *, probs: np.ndarray | None = None) -> np.ndarray:
    """The explained class per example: the predicted one when ``class_index`` is None.

    ``class_index`` may be an int (same class for all) or an array of shape (n,).
    """
    n = len(x)
    n_classes = int(model.outputs[0].shape[-1])
    if class_index is None:
        p = probabilities(model)(x) if probs is None else probs
        return np.asarray(p).argmax(axis=1).astype(int)
    c = np.broadcast_to(np.asarray(class_index, dtype=int), (n,)).copy()
    if (c < 0).any() or (c >= n_classes).any():
        raise ValueError(f"class_index must be in [0, {n_classes}), got {np.unique(c).tolist()}")
    return c


def explain(method: str, model, x: np.ndarray, *, class_index=None, **options) -> np.ndarray:
    """Attribution maps of dB spectrograms for one class per example.

    Parameters
    ----------
    method : str
        One of :data:`audiolens.attribution.registry.EXPLAINERS`.
    model : keras.Model
        A model following the contract (input ``(F, T, 1)`` dB, ``logits`` → ``probs``).
    x : ndarray, shape (n, F, T)
        dB spectrograms.
    class_index : int or array (n,), optional
        Class to explain; default the predicted class.
    **options
        The explainer's options (see its function in ``gradients``, ``perturbation``,
        ``shap_explainer``, :func:`gradcam`); ``shap`` needs ``background=(m, F, T)``.

    Returns
    -------
    ndarray, float32, shape (n, F, T)
        Finite (NaN and inf become 0).
    """
    from audiolens.interpret.common import as_batch

    if method not in EXPLAINERS:
        raise ValueError(f"unknown explainer {method!r}; known: {', '.join(EXPLAINERS)}")
    x = as_batch(model, x)[..., 0]
    if len(x) == 0:
        if class_index is not None:
            resolve_classes(model, x, class_index)
        return np.zeros(x.shape, dtype=np.float32)
    c = resolve_classes(model, x, class_index)
    out = np.asarray(EXPLAINERS[method].load()(model, x, c, **options), dtype=np.float32)
    if out.shape != x.shape:
        raise RuntimeError(f"explainer {method!r} returned shape {out.shape}, expected {x.shape}")
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
