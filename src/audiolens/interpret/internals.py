"""Learned filters and feature maps of every convolution, via the model contract only."""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from audiolens.interpret.common import as_batch, layer_output, tap_model
from audiolens.models.introspect import conv_layers
from audiolens.models.predict import predict

__all__ = ["FilterSummary", "spatial_kernel", "filter_summaries", "block_layers", "feature_maps",
           "top_channels"]


@dataclass(frozen=True)
class FilterSummary:
    """What to draw for one conv layer.

    Attributes
    ----------
    layer : str
    kind : {"direct", "energy"}
        ``direct``: the kernels themselves (first conv; input channels summed, which is the
        effective kernel when they are copies of one spectrogram). ``energy``: per output
        channel, the L2 norm over input channels at each kernel tap.
    images : ndarray, shape (c_out, kh, kw)
    channel_norms : ndarray, shape (c_in, c_out)
        L2 norm of each (input, output) channel kernel: which inputs an output uses.
    """

    layer: str
    kind: str
    images: np.ndarray
    channel_norms: np.ndarray


def spatial_kernel(layer: keras.layers.Layer) -> np.ndarray:
    """The spatial kernel ``(kh, kw, c_in, c_out)`` of a Conv2D / DepthwiseConv2D / SeparableConv2D.

    Depthwise kernels are ``(kh, kw, c_in, multiplier)`` (each output sees one input).
    """
    for attr in ("depthwise_kernel", "kernel"):
        var = getattr(layer, attr, None)
        if var is not None:
            k = np.asarray(var, dtype=np.float32)
            if k.ndim == 4:
                return k
    raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no 4-D spatial kernel")


def filter_summaries(model: keras.Model) -> list[FilterSummary]:
    """One :class:`FilterSummary` per conv layer (nested backbones included), in order."""
    out = []
    for i, layer in enumerate(conv_layers(model)):
        k = spatial_kernel(layer)
        norms = np.sqrt((k.astype(np.float64) ** 2).sum(axis=(0, 1))).astype(np.float32)
        if i == 0:
            images, kind = k.sum(axis=2), "direct"
        else:
            images, kind = np.sqrt((k.astype(np.float64) ** 2).sum(axis=2)).astype(np.float32), "energy"
        out.append(FilterSummary(layer.name, kind, np.moveaxis(images, -1, 0), norms))
    if not out:
        raise ValueError(f"model {model.name!r} has no convolution layer")
    return out


def _block_ends(layers: list, out_of) -> list:
    """Last layer at each spatial grid, in model order (from the first conv on).

    Only layers with a 4-D output count; padding/cropping layers and side branches whose grid
    is smaller than the final feature grid (e.g. squeeze-excitation ``1 x 1`` maps) are ignored.
    """
    kinds = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
             keras.Model)
    skip = (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)
    first = next((i for i, l in enumerate(layers) if isinstance(l, kinds)), None)
    if first is None:
        return []
    cand = [(i, l, tuple(out_of(l).shape[1:3])) for i, l in enumerate(layers[first:])
            if len(out_of(l).shape) == 4 and not isinstance(l, skip)]
    if not cand:
        return []
    final = np.prod([d or 1 for d in cand[-1][2]])
    last = {}
    for i, l, grid in cand:
        if np.prod([d or 1 for d in grid]) >= final:
            last[grid] = (i, l)
    return [l for _, l in sorted(last.values(), key=lambda t: t[0])]


def block_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The last layer of every conv block (top level).

    Among layers from the first convolution on with a 4-D output, the last one at each
    spatial grid ends a block (usually post-activation, before pooling). A nested backbone counts as one block here; :func:`feature_maps`
    looks inside it.
    """
    blocks = _block_ends(model.layers, layer_output)
    if not blocks:
        raise ValueError(f"model {model.name!r} has no convolution layer")
    return blocks


def _nested_maps(model: keras.Model, nested: keras.Model, xb: np.ndarray, *,
                 batch_size: int) -> dict[str, np.ndarray]:
    """Block outputs inside a nested backbone: outer input -> backbone input -> inner blocks."""
    inner = _block_ends(nested.layers, lambda l: l.output)
    if not inner:
        return {}
    feed = keras.Model(model.inputs[0], nested._inbound_nodes[0].input_tensors[0])
    taps = keras.Model(nested.inputs[0], [l.output for l in inner])
    outs = predict(taps, predict(feed, xb, batch_size=batch_size, compiled=False), batch_size=batch_size,
                   compiled=False)
    outs = outs if len(inner) > 1 else [outs]
    return {f"{nested.name}/{l.name}": o for l, o in zip(inner, outs)}


def feature_maps(model: keras.Model, x: np.ndarray, *, layers: list[keras.layers.Layer] | None = None,
                 batch_size: int = 16) -> dict[str, np.ndarray]:
    """Activations of conv blocks for a few spectrograms.

    Parameters
    ----------
    x : ndarray, shape (n, F, T) or (n, F, T, 1)
        dB spectrograms.
    layers : list of Layer, optional
        Default :func:`block_layers`; a nested backbone among them is replaced by its own
        block ends (named ``"<backbone>/<layer>"``).

    Returns
    -------
    dict
        Layer name -> float32 ``(n, h, w, c)`` in model order.
    """
    layers = block_layers(model) if layers is None else layers
    xb = as_batch(model, x)
    outs = predict(tap_model(model, layers), xb, batch_size=batch_size, compiled=False)
    outs = outs if len(layers) > 1 else [outs]
    maps: dict[str, np.ndarray] = {}
    for layer, o in zip(layers, outs):
        inner = _nested_maps(model, layer, xb, batch_size=batch_size) if isinstance(layer, keras.Model) else {}
        maps.update(inner)
        if not inner or list(inner.values())[-1].shape != o.shape:
            maps[layer.name] = o
    return maps


def top_channels(fmap: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` channels of a ``(h, w, c)`` map with the largest mean activation."""
    mean = fmap.reshape(-1, fmap.shape[-1]).mean(axis=0)
    return np.argsort(-mean, kind="stable")[:m]
