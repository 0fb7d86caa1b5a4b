"""Graph plumbing shared by the interpretation modules (model contract only, no arch names)."""
from __future__ import annotations

import keras
import numpy as np

from audiolens.errors import ModelError
from audiolens.models.introspect import LOGITS

__all__ = ["as_batch", "layer_output", "tap_model", "producer", "logits_layer"]


def as_batch(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Check dB spectrograms against the model input and return ``(n, F, T, 1)`` float32.

    Parameters
    ----------
    x : ndarray, shape (n, F, T) or (n, F, T, 1)
        dB spectrograms; or a lazily read view of the feature shards
        (:class:`audiolens.shards.StoreRows`), returned as a view with the channel axis and
        read by the batched passes one batch at a time.
    """
    if getattr(x, "lazy_rows", False):
        x = x if x.ndim == 4 else x.store.rows(x.positions, channel=True)
    else:
        x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(f"spectrograms must have shape (n, F, T) or (n, F, T, 1), got {x.shape}")
    want = tuple(model.input_shape[1:3])
    if any(w is not None and w != g for w, g in zip(want, x.shape[1:3])):
        raise ModelError(f"spectrograms have (F, T) = {x.shape[1:3]} but model {model.name!r} "
                         f"expects {want}")
    # a lazy view is not read here (that would be a whole pass): shards hold the spectrogram
    # stage's dB values, finite by construction (clipped to [-top_db, 0])
    if not getattr(x, "lazy_rows", False) and not np.isfinite(x).all():
        raise ValueError("spectrograms contain NaN or inf values")
    return x


def layer_output(layer: keras.layers.Layer):
    """The symbolic output of ``layer`` in its (outer) model graph.

    A nested ``keras.Model`` used as a layer reports its *inner* output as ``.output``;
    the tensor of its call in the outer graph is the output of its first inbound node.
    """
    if isinstance(layer, keras.Model) and layer._inbound_nodes:
        return layer._inbound_nodes[0].output_tensors[0]
    return layer.output


def producer(layer: keras.layers.Layer) -> keras.layers.Layer:
    """The layer whose output is the single input of ``layer`` (raises if several inputs)."""
    node = layer._inbound_nodes[0]
    tensors = list(node.input_tensors)
    if len(tensors) != 1:
        raise ValueError(f"layer {layer.name!r} has {len(tensors)} inputs, expected 1")
    return tensors[0]._keras_history.operation


def logits_layer(model: keras.Model) -> keras.layers.Layer:
    """The contract's linear ``Dense`` named ``logits``."""
    try:
        return model.get_layer(LOGITS)
    except ValueError:
        raise ModelError(f"model {model.name!r} has no layer named {LOGITS!r}") from None


def tap_model(model: keras.Model, layers: list[keras.layers.Layer]) -> keras.Model:
    """A functional model from the input to the outputs of ``layers`` (a list, in order)."""
    inp = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inp, [layer_output(layer) for layer in layers])

