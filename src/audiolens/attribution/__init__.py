"""Explain a trained spectrogram CNN's predictions and measure how faithful the explanations are.

Everything goes through the model contract (:mod:`audiolens.models.introspect`), never the
architecture name. Import the submodules directly (nothing is imported here, so each stage
loads only what it uses):

- :mod:`~audiolens.attribution.registry`: ``EXPLAINERS``, the only list of explainer names;
- :mod:`~audiolens.attribution.explainers`: ``explain`` (one calling convention
  ``f(model, x (n, F, T), c (n,), **options) -> (n, F, T)``);
- :mod:`~audiolens.attribution.gradients`, :mod:`~audiolens.attribution.perturbation`,
  :mod:`~audiolens.attribution.shap_explainer`: the explainers (Grad-CAM is
  :mod:`audiolens.interpret.cam`);
- :mod:`~audiolens.attribution.masks`: maps -> masks, masking towards the dB floor;
- :mod:`~audiolens.attribution.fidelity`: FF, AI, AD, AG, Fid-in, SPS, COMP;
- :mod:`~audiolens.attribution.sanity`: cascading model-parameter randomisation;
- :mod:`~audiolens.attribution.reconstruct`: masked spectrogram -> audio, round-trip probabilities, WAVs;
- :mod:`~audiolens.attribution.report` / :mod:`~audiolens.attribution.stage`: tables, figures, the stage.

Noise robustness is :mod:`audiolens.evaluation.noise`. See ``docs/attribution.md``.
"""
