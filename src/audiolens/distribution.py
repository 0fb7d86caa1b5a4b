"""Training across devices and machines: the ``tf.distribute`` strategy and its input pipeline.

``train.distribute``:

``none``
    the default strategy (one device).
``mirrored``
    ``MirroredStrategy`` over all GPUs of this machine (all logical CPUs when none).
``auto``
    mirrored with more than one GPU, else none.
``multi_worker``
    ``MultiWorkerMirroredStrategy`` over the machines listed in the ``TF_CONFIG`` environment
    variable (JSON ``{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker",
    "index": i}}``). Every worker runs the same stage script; the chief (``task.type: chief``,
    or worker 0 when the cluster has no chief) is the stage DVC runs and the only one that
    writes outputs (:func:`is_chief`). Each worker reads only its own rows of every global
    batch from the feature shards (:func:`input_datasets`), so the input pipeline is sharded,
    and the gradients are all-reduced, so the weights follow the single-process training on
    the same global batch (within float rounding; see docs/scaling.md for the launch recipe).

A ``MultiWorkerMirroredStrategy`` must be created before TensorFlow initialises its devices
and only once per process: :func:`resolve_strategy` builds it first and keeps it.
"""
from __future__ import annotations

import json
import os

import numpy as np

from audiolens.errors import ConfigError, ParameterError
from audiolens.tfdata import BatchAugment, FeatureStore, make_dataset

__all__ = ["DISTRIBUTE", "resolve_strategy", "read_tf_config", "is_chief", "input_datasets", "prepare_fit"]

DISTRIBUTE = ("auto", "none", "mirrored", "multi_worker")
_MULTI_WORKER = None  # the process's one MultiWorkerMirroredStrategy


def read_tf_config(environ=os.environ) -> dict | None:
    """The parsed ``TF_CONFIG`` (None when unset); a malformed one is a :class:`ConfigError`."""
    raw = environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        cfg = json.loads(raw)
        workers = cfg["cluster"].get("worker", []) + cfg["cluster"].get("chief", [])
        task = cfg["task"]
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"TF_CONFIG is not a cluster spec ({type(exc).__name__}: {exc}); expected "
                          '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'
                          ) from exc
    if kind not in ("chief", "worker") or not workers or index < 0 \
            or index >= len(cfg["cluster"].get(kind, [])):
        raise ConfigError(f"TF_CONFIG task {task} is not in its cluster {cfg['cluster']}")
    return cfg


def is_chief(environ=os.environ) -> bool:
    """True unless ``TF_CONFIG`` makes this process a non-chief worker (which writes no outputs)."""
    cfg = read_tf_config(environ)
    if cfg is None:
        return True
    kind, index = cfg["task"]["type"], int(cfg["task"]["index"])
    return kind == "chief" or (kind == "worker" and index == 0 and not cfg["cluster"].get("chief"))


def resolve_strategy(distribute: str):
    """A ``tf.distribute`` strategy for ``distribute`` (one of :data:`DISTRIBUTE`)."""
    import tensorflow as tf

    global _MULTI_WORKER
    if distribute not in DISTRIBUTE:
        raise ParameterError(f"distribute: unknown value {distribute!r} ({', '.join(DISTRIBUTE)})")
    if distribute == "multi_worker":
        if read_tf_config() is None:
            raise ConfigError("train.distribute: multi_worker needs the TF_CONFIG environment variable "
                              "(cluster and task; see docs/scaling.md)")
        if _MULTI_WORKER is None:  # before anything lists devices: collectives are set up at start-up
            _MULTI_WORKER = tf.distribute.MultiWorkerMirroredStrategy()
            _patch_keras_log_reduction()
        return _MULTI_WORKER
    gpus = tf.config.list_logical_devices("GPU")
    if distribute == "auto":
        distribute = "mirrored" if len(gpus) > 1 else "none"
    if distribute == "none":
        return tf.distribute.get_strategy()
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices=devices)


def _patch_keras_log_reduction() -> None:
    """Keras 3 (checked with 3.15) averages a multi-worker step's logs with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on the scalar losses and metrics
    (tensorflow/tensorflow#72388). Average scalars over the replicas instead (``axis=None``);
    every worker then logs the same values, so early stopping stops them all at one epoch."""
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "_audiolens", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not trainer._collective_all_reduce_multi_worker(strategy):
            return original(values, strategy, reduction)

        def mean(v):
            local = strategy.experimental_local_results(v)[0] if trainer._is_per_replica_instance(v) else v
            return strategy.reduce("MEAN", v, axis=0 if local.shape.rank else None)

        import keras

        return keras.tree.map_structure(mean, values)

    reduce_per_replica._audiolens = True
    trainer.reduce_per_replica = reduce_per_replica


def _n_workers(strategy) -> int:
    """Machines (chief + workers) the strategy spans: 1 unless it is a multi-worker strategy."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return 1
    spec = resolver.cluster_spec().as_dict()
    return len(spec.get("chief", [])) + len(spec.get("worker", []))


def input_datasets(strategy, store: FeatureStore, *, train: tuple, val: tuple, batch_size: int, seed: int,
                   augment: BatchAugment | None, n_classes: int, weights: np.ndarray):
    """The train and validation datasets for ``strategy`` and the train steps per epoch.

    Parameters
    ----------
    strategy : tf.distribute.Strategy
    store : FeatureStore
    train, val : (positions, labels)
        Rows of the store (``val`` may be empty: no validation dataset).
    batch_size : int
        Per replica; the global batch is ``batch_size * num_replicas_in_sync``.
    weights : ndarray, shape (n_train,)
        Training sample weights.

    Returns
    -------
    train_ds, val_ds (or None), steps : dataset, dataset, int
        Plain ``tf.data`` datasets of global batches on one machine; across machines,
        distributed datasets whose worker ``k`` reads only block ``k`` of each global batch.
    """
    replicas = strategy.num_replicas_in_sync
    kw = dict(batch_size=batch_size * replicas, n_classes=n_classes, replicas=replicas)
    if _n_workers(strategy) == 1:
        tr = make_dataset(store, *train, shuffle=True, seed=seed, augment=augment, weights=weights, **kw)
        va = make_dataset(store, *val, **kw) if len(val[0]) else None
        return tr, va, int(tr.cardinality().numpy())

    def distributed(rows, **extra):
        def per_worker(ctx):
            # one input pipeline per worker: block ctx.input_pipeline_id of each global batch
            return make_dataset(store, *rows, shard=(ctx.input_pipeline_id, ctx.num_input_pipelines), **kw,
                                **extra)
        return strategy.distribute_datasets_from_function(per_worker)

    from audiolens.tfdata import BatchStream

    steps = len(BatchStream(store, *train, batch_size=kw["batch_size"], shuffle=False,
                            multiple_of=replicas))
    tr = distributed(train, shuffle=True, seed=seed, augment=augment, weights=weights)
    va = distributed(val) if len(val[0]) else None
    return tr, va, steps


def prepare_fit(model, strategy, *, batch_size: int, input_shape: tuple, n_classes: int) -> None:
    """Let ``model.fit`` start on a multi-worker distributed dataset (no-op otherwise).

    Keras 3 (checked with 3.15) builds the compile state from the first batch reduced with
    ``strategy.reduce("MEAN", (x, y, w))``, which ``MultiWorkerMirroredStrategy`` cannot do
    for a tuple; the model gets that state from the batch shapes instead (per replica:
    x ``(batch_size, *input_shape)``, one-hot y ``(batch_size, n_classes)``, weights ``(batch_size,)``).
    """
    import types

    if _n_workers(strategy) == 1:
        return
    spec = (np.zeros((batch_size, *input_shape), np.float32), np.zeros((batch_size, n_classes), np.float32),
            np.zeros((batch_size,), np.float32))

    def build_from_shapes(self, iterator=None, data_batch=None):
        with strategy.scope():
            self._symbolic_build(data_batch=spec)

    model._maybe_symbolic_build = types.MethodType(build_from_shapes, model)
