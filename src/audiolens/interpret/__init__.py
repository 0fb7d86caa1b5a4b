"""Look inside a trained spectrogram CNN: filters, feature maps, retrieval, CAM, parameter space.

Everything goes through the model contract (:mod:`audiolens.models.introspect`), never the
architecture name. Import the submodules directly (nothing is imported here, so each stage
loads only what it uses):

- :mod:`~audiolens.interpret.cam`: ``grad_cam`` (any model, signed variant), ``cam`` (GAP -> linear);
- :mod:`~audiolens.interpret.internals`: filters and feature maps;
- :mod:`~audiolens.interpret.retrieval`: embeddings, cosine top-k, precision@k, projections;
- :mod:`~audiolens.interpret.paramspace`: weight drift and layer-reset robustness;
- :mod:`~audiolens.interpret.pipeline` / :mod:`~audiolens.interpret.paramspace_run`: the stages.
"""
