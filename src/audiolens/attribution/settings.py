"""The attribution stage's settings object (import-free: built by the config layer's ``to_settings``)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AttributionSettings"]


@dataclass(frozen=True, kw_only=True)
class AttributionSettings:
    """What :func:`audiolens.attribution.stage.run` explains and measures (the ``attribution`` section).

    Attributes
    ----------
    explainers : list of str
        Explainer names (:data:`audiolens.attribution.registry.EXPLAINERS`).
    masks : list of str
        Mask kinds (:mod:`audiolens.attribution.masks`).
    headline_mask : str
        Mask for WAVs, figures, noise fidelity and the metrics.
    n_examples : int
        Test segments explained (class-stratified).
    floor_db : float or None
        dB value a masked-out bin takes; None: each example's minimum.
    fill : {"shuffle", "floor"}
        What a removed bin becomes in the spectral fidelity metrics and curves
        (:func:`audiolens.attribution.masks.fill_state`); WAVs and the audio round trip use the floor.
    curve_steps : int
        Deletion / insertion curves: ``k`` in ``2^-(steps-1), ..., 1/2, 1``.
    random_draws : int
        Seeded random masks / orders per example in the random-mask control.
    target : {"log_odds", "logits", "probs"}
        What gradient methods and SHAP explain.
    baseline_db : float or None
        IG / occlusion / LIME baseline (dB); None: each example's minimum.
    smoothgrad_samples : int
        Noisy copies per example.
    smoothgrad_noise : float
        Noise sigma as a fraction of the example's dB range.
    ig_steps : int
        Integrated-gradients steps.
    occlusion_patch : float
        Patch side as a fraction of F and of T.
    lime_samples, lime_grid_freq, lime_grid_time : int
        Perturbed copies per example; grid cells along frequency and time.
    shap_background, shap_samples : int
        Train segments in the SHAP background; expected-gradient samples per example.
    gradcam_signed : bool
        Keep Grad-CAM's sign (no ReLU).
    roundtrip_examples : int
        Examples for the audio round-trip metrics.
    roundtrip_all_masks : bool
        Round trip for every mask kind (False: the headline mask only).
    wav_examples, figure_examples : int
        Examples written as WAVs per explainer; per-example figures.
    sanity_examples : int
        Examples in the model-parameter randomisation check (0: off).
    sanity_explainers : list of str
        Explainers in the check.
    sanity_layers : int or None
        Layers randomised from the top (None: all).
    noise_files : list of str
        Noise recordings mixed into test audio (must exist).
    white_noise : bool
        Also generated white noise.
    snr_db : list of float
        Mixing SNRs (dB).
    noise_examples : int
        Test segments per noise condition.
    noise_explainers : list of str
        Explainers measured under noise.
    ece_bins : int
        Confidence bins for ECE under noise.
    seed : int
        Seed of every sample drawn.
    """

    explainers: list[str]
    masks: list[str]
    headline_mask: str
    n_examples: int
    floor_db: float | None
    fill: str
    curve_steps: int
    random_draws: int
    target: str
    baseline_db: float | None
    smoothgrad_samples: int
    smoothgrad_noise: float
    ig_steps: int
    occlusion_patch: float
    lime_samples: int
    lime_grid_freq: int
    lime_grid_time: int
    shap_background: int
    shap_samples: int
    gradcam_signed: bool
    roundtrip_examples: int
    roundtrip_all_masks: bool
    wav_examples: int
    figure_examples: int
    sanity_examples: int
    sanity_explainers: list[str]
    sanity_layers: int | None
    noise_files: list[str]
    white_noise: bool
    snr_db: list[float]
    noise_examples: int
    noise_explainers: list[str]
    ece_bins: int
    seed: int
