"""The explainer registry: the only list of explainer names, where each one lives, its options.

Every entry's function follows the calling convention of
:func:`audiolens.attribution.explainers.explain` (``f(model, x (n, F, T), c (n,), **options) -> (n, F, T)``) and is imported on first use, so
this module imports nothing heavy: the config validates explainer names against it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

__all__ = ["Explainer", "EXPLAINERS", "explainer_options"]


@dataclass(frozen=True)
class Explainer:
    """A registered explainer.

    Attributes
    ----------
    function : str
        ``"module:function"`` inside :mod:`audiolens.attribution` (loaded on first use).
    options : callable
        Maps the attribution settings (the fields of
        :class:`~audiolens.attribution.settings.AttributionSettings` plus ``background``)
        to the function's keyword options.
    """

    function: str
    options: Callable[[Mapping[str, Any]], dict]

    def load(self) -> Callable:
        """The explainer function ``f(model, x, c, **options) -> (n, F, T)``."""
        module, name = self.function.split(":")
        return getattr(importlib.import_module(f"audiolens.attribution.{module}"), name)


def _base(s: Mapping[str, Any]) -> float | str:
    return "min" if s["baseline_db"] is None else float(s["baseline_db"])


EXPLAINERS: Mapping[str, Explainer] = MappingProxyType({
    "saliency": Explainer("gradients:saliency", lambda s: {"target": s["target"]}),
    "smoothgrad": Explainer("gradients:smoothgrad", lambda s: {
        "target": s["target"], "n_samples": s["smoothgrad_samples"], "noise_level": s["smoothgrad_noise"],
        "seed": s["seed"]}),
    "integrated_gradients": Explainer("gradients:integrated_gradients", lambda s: {
        "target": s["target"], "steps": s["ig_steps"], "baseline": _base(s)}),
    "occlusion": Explainer("perturbation:occlusion", lambda s: {
        "patch": (s["occlusion_patch"], s["occlusion_patch"]), "baseline": _base(s)}),
    "gradcam": Explainer("explainers:gradcam", lambda s: {"signed": s["gradcam_signed"], "target": s["target"]}),
    "lime": Explainer("perturbation:lime_grid", lambda s: {
        "num_samples": s["lime_samples"], "n_freq": s["lime_grid_freq"], "n_time": s["lime_grid_time"],
        "baseline": _base(s), "seed": s["seed"]}),
    "shap": Explainer("shap_explainer:shap_gradient", lambda s: {
        "target": s["target"], "background": s["background"], "n_samples": s["shap_samples"], "seed": s["seed"]}),
})


def explainer_options(name: str, settings: Mapping[str, Any]) -> dict:
    """Keyword options of explainer ``name`` from the attribution settings (see :data:`EXPLAINERS`)."""
    return EXPLAINERS[name].options(settings)
