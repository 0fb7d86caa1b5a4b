"""Look inside a trained spectrogram CNN: filters, feature maps, retrieval, CAM, parameter space.

Everything goes through the model contract (:mod:`audiolens.models.introspect`), never the
architecture name.
"""
from audiolens.interpret.cam import CamNotApplicable, cam, grad_cam, normalise_maps

__all__ = ["CamNotApplicable", "cam", "grad_cam", "normalise_maps"]
