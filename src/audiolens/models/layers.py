"""In-model normalisation layers (the model sees dB spectrograms; it normalises them itself).

Both layers are registered Keras serialisables, so a saved ``model.keras`` reloads with
``audiolens.models.load_model`` (or ``keras.models.load_model`` after importing this module)
and the predict CLI needs no separate statistics file.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["PerSampleStandardize", "DatasetStandardize", "normalisation_layer"]


@keras.saving.register_keras_serializable(package="audiolens")
class PerSampleStandardize(keras.layers.Layer):
    """Z-score each spectrogram over its own (F, T) plane.

    Input and output shape ``(batch, F, T, C)``; ``eps`` guards silent (constant) inputs.
    """

    def __init__(self, eps: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.eps = float(eps)

    def call(self, x):
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=(1, 2, 3), keepdims=True)
        return (x - mean) / ops.sqrt(var + self.eps)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


@keras.saving.register_keras_serializable(package="audiolens")
class DatasetStandardize(keras.layers.Layer):
    """Z-score with fixed per-frequency-bin statistics of the training split.

    Parameters
    ----------
    mean, std : sequence of float, length F
        dB mean and standard deviation of each frequency bin over the train split
        (see :func:`audiolens.tfdata.dataset_stats`).
    """

    def __init__(self, mean, std, eps: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in np.ravel(mean)]
        self.std = [float(v) for v in np.ravel(std)]
        if len(self.mean) != len(self.std):
            raise ValueError(f"mean ({len(self.mean)}) and std ({len(self.std)}) lengths differ")
        self.eps = float(eps)

    def build(self, input_shape):
        f = input_shape[1]
        if f is not None and f != len(self.mean):
            raise ValueError(f"DatasetStandardize has stats for {len(self.mean)} frequency bins, "
                             f"input has {f}")
        shape = (1, len(self.mean), 1, 1)
        self._mu = ops.reshape(ops.convert_to_tensor(np.asarray(self.mean, "float32")), shape)
        self._sd = ops.reshape(ops.convert_to_tensor(np.asarray(self.std, "float32")), shape)

    def call(self, x):
        mu = ops.cast(self._mu, x.dtype)
        sd = ops.cast(self._sd, x.dtype)
        return (x - mu) / (sd + ops.cast(self.eps, x.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std, "eps": self.eps}


def normalisation_layer(kind: str, *, stats: dict | None = None) -> keras.layers.Layer | None:
    """The first layer of every model.

    Parameters
    ----------
    kind : {"none", "per_sample", "dataset"}
    stats : dict, optional
        ``{"mean": [F floats], "std": [F floats]}``; required for ``"dataset"``.

    Returns
    -------
    keras.layers.Layer or None
        ``None`` for ``"none"`` (the model sees raw dB).
    """
    if kind == "none":
        return None
    if kind == "per_sample":
        return PerSampleStandardize(name="normalise")
    if kind == "dataset":
        if not stats or "mean" not in stats or "std" not in stats:
            raise ValueError("normalise='dataset' needs stats={'mean': [...], 'std': [...]} "
                             "from the train split")
        return DatasetStandardize(stats["mean"], stats["std"], name="normalise")
    raise ValueError(f"unknown normalisation {kind!r} (allowed: none, per_sample, dataset)")
