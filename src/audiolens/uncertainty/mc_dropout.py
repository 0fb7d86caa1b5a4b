"""Monte Carlo dropout with dropout always on at inference, sampling only the stochastic tail.

``model(x, training=True)`` is *not* MC dropout in Keras 3: it also switches BatchNorm to
batch statistics (and would update them inside ``fit``-like code). Here the model graph is
split at its first dropout-family layer (or a named one):

- the **trunk** (everything that does not depend on that layer's output) runs once per
  chunk in inference mode;
- the **tail** (that layer and everything downstream) is re-executed ``T`` times from the
  trunk's outputs, with every dropout-family layer in it replaced by an always-on copy
  (same rate / noise shape, its own seed) and every other layer in inference mode.

The tail is a compiled ``tf.function``; the batch is never tiled ``T`` times. With the
contract head (``embedding -> head_dropout -> logits -> probs``) the tail is two cheap
layers, so ``T`` passes cost about one forward pass. Dropout placed earlier (e.g. spatial
dropout after conv blocks) gives a longer tail and stays correct, only slower. Dropout
layers inside nested sub-models (e.g. a Keras applications backbone) are not sampled.
"""
from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from audiolens.errors import ModelError
from audiolens.models.predict import as_rows, fixed_batches
from audiolens.uncertainty.decompose import Predictive, summarise

__all__ = ["DROPOUT_TYPES", "MCDropout", "first_dropout_layer"]

log = logging.getLogger(__name__)

DROPOUT_TYPES = (keras.layers.Dropout, keras.layers.GaussianDropout, keras.layers.AlphaDropout)


def _graph_nodes(model: keras.Model) -> list:
    """The model's computation nodes (input nodes excluded) in topological order."""
    if not hasattr(model, "_nodes_by_depth"):
        raise TypeError(f"model {model.name!r} is not a functional Keras model "
                        f"(MC dropout needs the layer graph)")
    out = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        out.extend(n for n in model._nodes_by_depth[depth] if n.operation is not None and not n.is_input)
    return out


def first_dropout_layer(model: keras.Model, *, name: str | None = None) -> keras.layers.Layer:
    """The layer MC sampling starts from.

    Parameters
    ----------
    model : keras.Model
        Functional model.
    name : str, optional
        A specific dropout layer (e.g. ``"head_dropout"``); default: the first
        dropout-family layer in topological order.
    """
    if name is not None:
        try:
            layer = model.get_layer(name)
        except ValueError:
            raise ModelError(f"model {model.name!r} has no layer named {name!r}") from None
        if not isinstance(layer, DROPOUT_TYPES):
            raise ModelError(f"layer {name!r} of model {model.name!r} is a {type(layer).__name__}, "
                             f"not a dropout layer")
        return layer
    for node in _graph_nodes(model):
        if isinstance(node.operation, DROPOUT_TYPES):
            return node.operation
    raise ModelError(f"model {model.name!r} has no top-level dropout layer: MC dropout needs one "
                     f"(set model.dropout > 0 or use the ensemble)")


def _always_on_copy(layer: keras.layers.Layer, seed: int) -> keras.layers.Layer:
    """A weightless copy of a dropout-family layer with its own seed (called with training=True)."""
    cfg = layer.get_config()
    cfg["name"] = f"{layer.name}_mc"
    if "seed" in cfg:
        cfg["seed"] = int(seed)
    return type(layer).from_config(cfg)


class MCDropout:
    """A model split for MC-dropout sampling (see the module docstring).

    Parameters
    ----------
    model : keras.Model
        Functional model whose single output is class probabilities ``(batch, C)``.
    start : str, optional
        Name of the dropout layer to sample from (default: the first one).
    seed : int
        Seed of the always-on dropout copies (reproducible samples).
    jit : bool
        Compile the tail with XLA.
    """

    def __init__(self, model: keras.Model, *, start: str | None = None, seed: int = 0, jit: bool = False):
        if len(model.outputs) != 1:
            raise ModelError(f"model {model.name!r} must have one output (probabilities), "
                             f"has {len(model.outputs)}")
        self.model, self.seed = model, int(seed)
        self.start = first_dropout_layer(model, name=start)
        nodes = _graph_nodes(model)
        start_nodes = [n for n in nodes if n.operation is self.start]
        if len(start_nodes) != 1:
            raise ValueError(f"dropout layer {self.start.name!r} is used {len(start_nodes)} times in "
                             f"{model.name!r}; MC dropout needs it used exactly once")
        tainted: set[int] = set()
        tail, boundary = [], {}
        for node in nodes:
            if node is start_nodes[0] or any(id(t) in tainted for t in node.input_tensors):
                tail.append(node)
                for t in node.input_tensors:
                    if id(t) not in tainted:  # made by the trunk (or a model input)
                        boundary.setdefault(id(t), t)
                tainted.update(id(t) for t in node.outputs)
        if id(model.outputs[0]) not in tainted:
            raise ModelError(f"the output of {model.name!r} does not depend on {self.start.name!r}")
        self._tail_nodes = tail
        self._boundary = list(boundary.values())
        self._output = model.outputs[0]
        self.n_tail_layers = len(tail)
        self._noisy = {id(n.operation): _always_on_copy(n.operation, seed + k)
                       for k, n in enumerate(n for n in tail if isinstance(n.operation, DROPOUT_TYPES))}
        input_ids = {id(t) for t in model.inputs}
        if all(id(t) in input_ids for t in self._boundary):
            self._trunk = None  # dropout right at the input: nothing deterministic to precompute
        else:
            self._trunk = keras.Model(model.inputs, self._boundary, name=f"{model.name}_trunk")
        self._trunk_fn = tf.function(self._run_trunk, reduce_retracing=True, autograph=False)
        self._tail_fn = tf.function(self._run_tail, reduce_retracing=True, autograph=False,
                                    jit_compile=jit)
        log.debug("MC dropout from %r: %d tail layer(s), %d boundary tensor(s)",
                 self.start.name, len(tail), len(self._boundary))

    def _run_trunk(self, x):
        if self._trunk is None:
            return [x for _ in self._boundary]
        out = self._trunk(x, training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _run_tail(self, hs, stochastic: bool):
        values = {id(t): h for t, h in zip(self._boundary, hs)}
        for node in self._tail_nodes:
            args, kwargs = node.arguments.fill_in(values)
            op = node.operation
            if stochastic and id(op) in self._noisy:
                out = self._noisy[id(op)](*args, training=True)
            else:
                if "training" in getattr(op, "_call_context_args", {}):
                    kwargs["training"] = False
                out = op(*args, **kwargs)
            for t, v in zip(node.outputs, tf.nest.flatten(out)):
                values[id(t)] = v
        return values[id(self._output)]

    def sample(self, x: np.ndarray, *, samples: int, batch_size: int = 256,
               progress: bool = False) -> np.ndarray:
        """Stochastic class probabilities.

        Parameters
        ----------
        x : array (n, F, T, 1), or a lazily read row view (:class:`audiolens.shards.StoreRows`)
            Model inputs (dB spectrograms).
        samples : int
            Number of MC passes T (>= 1).
        batch_size : int
            Chunk size for the trunk and the tail.

        Returns
        -------
        ndarray (T, n, C), float32
        """
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        x = as_rows(x)
        n = x.shape[0]
        out = None
        for sl, b in tqdm(fixed_batches(x, batch_size), total=-(-n // max(1, min(batch_size, n))),
                          desc="mc dropout", disable=not progress):
            hs = self._trunk_fn(tf.convert_to_tensor(b))
            k = sl.stop - sl.start
            for s in range(samples):
                p = self._tail_fn(hs, True).numpy()
                if out is None:
                    out = np.empty((samples, n, p.shape[-1]), np.float32)
                out[s, sl] = p[:k]
        return out

    def predict(self, x: np.ndarray, *, samples: int, batch_size: int = 256,
                progress: bool = False) -> Predictive:
        """MC-dropout prediction: :func:`~audiolens.uncertainty.decompose.summarise` of :meth:`sample`."""
        return summarise(self.sample(x, samples=samples, batch_size=batch_size, progress=progress))

    def deterministic(self, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        """Trunk + tail with dropout off, ``(n, C)`` (equals ``model(x, training=False)``)."""
        x = as_rows(x)
        parts = [self._tail_fn(self._trunk_fn(tf.convert_to_tensor(b)), False).numpy()[:sl.stop - sl.start]
                 for sl, b in fixed_batches(x, batch_size)]
        return np.concatenate(parts).astype(np.float32)

