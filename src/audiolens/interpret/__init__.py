"""Look inside a trained spectrogram CNN: filters, feature maps, retrieval, CAM, parameter space.

Everything goes through the model contract (:mod:`audiolens.models.introspect`), never the
architecture name. Import the submodules directly (nothing is imported here, so each stage
loads only what it uses):

- :mod:`~audiolens.interpret.cam`: ``grad_cam`` (any model, signed variant), ``cam`` (GAP -> linear);
- :mod:`~audiolens.interpret.internals`: filters and feature maps;
- :mod:`~audiolens.interpret.retrieval`: embeddings, cosine top-k, precision@k, projections;
- :mod:`~audiolens.interpret.paramspace`: weight drift and layer-reset robustness;
- :mod:`~audiolens.interpret.figures`, :mod:`~audiolens.interpret.selection`,
  :mod:`~audiolens.interpret.common`: their figures, which segments are used, graph plumbing;
- :mod:`~audiolens.interpret.stage` / :mod:`~audiolens.interpret.paramspace_stage`: the
  ``interpret`` and ``paramspace`` stages (``run``).

Explainers, masks and fidelity metrics are :mod:`audiolens.attribution`. See ``docs/interpret.md``.
"""
