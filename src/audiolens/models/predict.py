"""The one inference-mode forward pass: :func:`predict` on arrays, :func:`predict_store` streamed.

Two ways of running a batch exist because they are not bit-identical and each caller keeps
the numbers it always had:

- ``compiled=True`` (default): every batch has the same length ``min(batch_size, n)`` (the
  last one padded by repeating its final row, see :func:`fixed_batches`) and goes through
  the model's own compiled ``predict_on_batch``, traced once per model and kept on it, so
  repeated calls (fidelity curves, ensembles) do not retrace;
- ``compiled=False``: the model is called eagerly, ``model(batch, training=False)``, on
  unpadded batches; for models built on the fly (tap models of a few layers), which a
  compiled function would trace anew each time.

The two differ in the last float32 bit (graph vs eager kernels), not more.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

__all__ = ["as_rows", "fixed_batches", "predict", "predict_store"]


def as_rows(x) -> np.ndarray:
    """``x`` as an array, except a lazily read row view (``x.lazy_rows``, e.g.
    :class:`audiolens.shards.StoreRows`), which is returned as it is: the batched passes
    below only take its length and slices, so it is read one batch at a time."""
    return x if getattr(x, "lazy_rows", False) else np.asarray(x)


def fixed_batches(x: np.ndarray, batch_size: int) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(slice, batch)`` with every batch of the same length ``min(batch_size, n)``.

    The last batch is padded by repeating its final row, so a compiled function is traced
    once; callers keep only the first ``slice`` length rows of each result.
    """
    n = x.shape[0]
    if n == 0:
        raise ValueError("x is empty")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    size = min(batch_size, n)
    for i in range(0, n, size):
        sl = slice(i, min(n, i + size))
        b = x[sl]
        if b.shape[0] < size:
            b = np.concatenate([b, np.repeat(b[-1:], size - b.shape[0], axis=0)])
        yield sl, b


def _outputs(res) -> list[np.ndarray]:
    return [np.asarray(r, dtype=np.float32) for r in (res if isinstance(res, (list, tuple)) else [res])]


def predict(model, x: np.ndarray, *, batch_size: int, compiled: bool = True) -> np.ndarray | list[np.ndarray]:
    """Run ``model`` in inference mode over ``x`` in batches.

    Parameters
    ----------
    model : keras.Model
    x : ndarray, shape (n, ...), or a lazily read row view (:func:`as_rows`)
        Model inputs (e.g. ``(n, F, T, 1)`` dB spectrograms).
    batch_size : int
        Rows per forward pass.
    compiled : bool
        Padded batches through ``predict_on_batch`` (True) or eager unpadded calls (False);
        see the module docstring.

    Returns
    -------
    ndarray, float32, shape (n, ...)
        The output; a list of such arrays (in output order) when the model has more than
        one output.

    Raises
    ------
    ValueError
        If ``x`` is empty or ``batch_size < 1``.
    """
    x = as_rows(x)
    if len(x) == 0:
        raise ValueError("no inputs to run the model on")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    parts: list[list[np.ndarray]] = []
    if compiled:
        for sl, b in fixed_batches(x, batch_size):
            parts.append([o[:sl.stop - sl.start] for o in _outputs(model.predict_on_batch(b))])
    else:
        for s in range(0, len(x), batch_size):
            parts.append(_outputs(model(x[s:s + batch_size], training=False)))
    outs = [np.concatenate(p, axis=0) for p in zip(*parts)]
    return outs if len(model.outputs) > 1 else outs[0]


def predict_store(model, store, positions, *, batch_size: int) -> np.ndarray:
    """Class probabilities ``(n, K)`` float32 of feature-store rows ``positions``, streamed from the shards.

    Runs ``model.predict`` over :func:`audiolens.tfdata.make_dataset` (unshuffled, no
    augmentation), so the spectrograms never have to fit in memory. A model whose XLA
    setting was never chosen gets XLA only on a GPU (``auto`` compiles slowly on CPU).
    """
    from audiolens.tfdata import make_dataset

    positions = np.asarray(positions)
    if getattr(model, "_jit_compile", None) is None:
        import tensorflow as tf
        model.jit_compile = bool(tf.config.list_physical_devices("GPU"))
    y = np.zeros(len(positions), dtype=np.int64)
    ds = make_dataset(store, positions, y, batch_size=batch_size).map(lambda x, _y: x)
    return np.asarray(model.predict(ds, verbose=0), dtype=np.float32)
