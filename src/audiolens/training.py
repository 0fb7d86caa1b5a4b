"""Fit wiring: strategy, mixed precision, class weights, callbacks, checkpoints, DVCLive.

:func:`train_model` is the one entry point; the ``train`` stage and the ensemble-member
stage call it with different seeds and output folders. Its keyword names match the
``model`` and ``train`` params sections, so a stage can call
``train_model(..., **params.model.model_dump(), **params.train.model_dump())``.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.io import atomic_dir, atomic_path, atomic_write_json
from audiolens.split import split_positions
from audiolens.tfdata import dataset_stats, make_dataset, open_features

__all__ = ["train_model", "resolve_strategy", "sample_weights",
           "load_train_meta"]

LOG = logging.getLogger("audiolens.training")


def sample_weights(labels, augmented, n_classes: int, *, class_weight: str = "balanced",
                   augmented_weight: float = 1.0) -> np.ndarray:
    """Per-row training weights ``(n,)``, mean 1.

    Augmented rows count ``augmented_weight`` each (an original counts 1); with
    ``class_weight="balanced"`` every class then gets the same total weight, so
    time-stretched copies of one class neither outvote its real recordings nor
    shrink its weight against the other classes.
    """
    labels = np.asarray(labels, dtype=np.int64)
    w = np.where(np.asarray(augmented, dtype=bool), float(augmented_weight), 1.0)
    if class_weight == "balanced":
        totals = np.bincount(labels, weights=w, minlength=n_classes)
        present = totals > 0
        scale = np.zeros(n_classes)
        scale[present] = w.sum() / (present.sum() * totals[present])
        w = w * scale[labels]
    elif class_weight != "none":
        raise ValueError(f"train.class_weight: unknown value {class_weight!r} (balanced, none)")
    return (w / w.mean()).astype(np.float32) if w.sum() > 0 else w.astype(np.float32)


def resolve_strategy(distribute: str):
    """A ``tf.distribute`` strategy for ``train.distribute``.

    ``"none"``: the default strategy. ``"mirrored"``: all GPUs, or all logical CPUs when no
    GPU is visible. ``"auto"``: mirrored when more than one GPU is visible, else none.
    """
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if distribute == "auto":
        distribute = "mirrored" if len(gpus) > 1 else "none"
    if distribute == "none":
        return tf.distribute.get_strategy()
    if distribute != "mirrored":
        raise ValueError(f"train.distribute: unknown value {distribute!r} (auto, none, mirrored)")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices=devices)


def _use_mixed_precision(mode: str) -> bool:
    import tensorflow as tf

    if mode not in ("auto", "on", "off"):
        raise ValueError(f"train.mixed_precision: unknown value {mode!r} (auto, on, off)")
    return mode == "on" or (mode == "auto" and bool(tf.config.list_physical_devices("GPU")))


def _callbacks(*, keras, monitor: str, patience: int, lr_patience: int, lr_factor: float,
               epoch_dir: Path | None, live_dir: str | Path | None, epoch_times: list):
    class EpochLog(keras.callbacks.Callback):
        """Per-epoch wall time and (optionally) weights ``epoch_NNN.weights.h5`` (1-based)."""

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self._t0)
            if epoch_dir is not None:
                self.model.save_weights(epoch_dir / f"epoch_{epoch + 1:03d}.weights.h5")

    cbs = [EpochLog(),
           keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=lr_factor, patience=lr_patience,
                                             min_lr=1e-6, verbose=0),
           keras.callbacks.EarlyStopping(monitor=monitor, patience=patience,
                                         restore_best_weights=True, verbose=0)]
    live = None
    if live_dir is not None:
        from dvclive import Live
        from dvclive.keras import DVCLiveCallback

        live = Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False)
        cbs.append(DVCLiveCallback(live=live))
    return cbs, live


def train_model(*, features_dir: str | Path, split: str | Path | pd.DataFrame, out_dir: str | Path,
                arch: str = "seed_cnn", width: float = 0.5, dense_units: int = 64,
                dropout: float = 0.5, conv_dropout: float = 0.0, weights: str | None = None,
                pool: str = "time", normalise: str | None = None, epochs: int = 30,
                batch_size: int = 16, learning_rate: float = 1e-3, weight_decay: float = 1e-4,
                patience: int = 5, lr_patience: int = 2, lr_factor: float = 0.5,
                class_weight: str = "balanced", augmented_weight: float = 0.5,
                specaugment: bool = False, seed: int = 0,
                save_epochs: bool = True, distribute: str = "auto", mixed_precision: str = "auto",
                live_dir: str | Path | None = None, train_split: str = "train",
                val_split: str = "val", verbose: int = 2):
    """Train one model on the feature shards and save it under ``out_dir``.

    Defaults equal the ``model`` / ``train`` params defaults.

    Parameters
    ----------
    features_dir : path
        Spectrogram stage output (``index.csv``, ``meta.json``, shards).
    split : path or DataFrame
        ``split.csv`` (``segment_id, split``); rows with ``split == train_split`` train,
        ``val_split`` drive early stopping / LR schedule (none: monitor the train loss).
    out_dir : path
        Writes ``model.keras``, ``weights/initial.weights.h5``,
        ``weights/epoch_NNN.weights.h5`` (when ``save_epochs``) and ``train_meta.json``.
    arch, width, dense_units, dropout, conv_dropout, weights, pool
        The ``model`` params (see :func:`audiolens.models.registry.build_model`).
    normalise : {"none", "per_sample", "dataset"}, optional
        Defaults to ``meta.json``'s ``normalise``. ``dataset`` computes per-frequency stats
        on the train split and stores them in the model and in ``train_meta.json``.
    epochs ... mixed_precision
        The ``train`` params. ``seed`` seeds Python/NumPy/TF (``keras.utils.set_random_seed``)
        and the data order.
    live_dir : path, optional
        DVCLive folder for learning curves (``None``: no DVCLive).

    Returns
    -------
    model : keras.Model
        The trained model (best validation weights restored).
    meta : dict
        What ``train_meta.json`` holds: class names, input shape, normalisation and its
        stats, history, best epoch, counts; plus ``timings`` (fit and per-epoch seconds),
        which are not written there because they differ between identical runs.
    """
    import keras
    import tensorflow as tf

    from audiolens.models.registry import build_model, save_model

    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    store = open_features(features_dir)
    split_df = pd.read_csv(split, keep_default_na=False) if not isinstance(split, pd.DataFrame) else split
    class_names = list(store.meta.get("class_names") or [])
    n_classes = len(class_names)
    if n_classes < 2:
        raise ValueError(f"{features_dir}/meta.json: need >= 2 class_names, got {class_names}")
    tr_pos = split_positions(store.index, split_df, train_split)
    va_pos = split_positions(store.index, split_df, val_split)
    if len(tr_pos) == 0:
        raise ValueError(f"split has no {train_split!r} rows")
    y_all = store.index["label_index"].to_numpy(dtype=np.int64)
    y_tr, y_va = y_all[tr_pos], y_all[va_pos]
    missing = sorted(set(range(n_classes)) - set(np.unique(y_tr).tolist()))
    if missing:
        LOG.warning("classes without training examples: %s", [class_names[i] for i in missing])
    normalise = normalise or store.meta.get("normalise", "per_sample")
    stats = dataset_stats(store, tr_pos) if normalise == "dataset" else None
    F, T = store.shape
    input_shape = (F, T, 1)

    keras.utils.set_random_seed(seed)
    mp = _use_mixed_precision(mixed_precision)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    prev_policy = keras.mixed_precision.dtype_policy().name
    strategy = resolve_strategy(distribute)
    n_replicas = strategy.num_replicas_in_sync
    LOG.info("training %s on %d segments (val %d), input %s, %d classes, %d replica(s)%s",
             arch, len(tr_pos), len(va_pos), input_shape, n_classes, n_replicas,
             ", mixed precision" if mp else "")
    aug_tr = (store.index["augmented"].to_numpy(bool)[tr_pos] if "augmented" in store.index
              else np.zeros(len(tr_pos), bool))
    sw = sample_weights(y_tr, aug_tr, n_classes, class_weight=class_weight, augmented_weight=augmented_weight)
    cw = {int(c): float(sw[y_tr == c].mean()) if (y_tr == c).any() else 0.0 for c in range(n_classes)}
    global_batch = batch_size * n_replicas
    train_ds = make_dataset(store, tr_pos, y_tr, batch_size=global_batch, shuffle=True, seed=seed,
                            specaugment=specaugment, replicas=n_replicas, weights=sw)
    val_ds = (make_dataset(store, va_pos, y_va, batch_size=global_batch, replicas=n_replicas)
              if len(va_pos) else None)
    if n_replicas > 1 and (len(tr_pos) % n_replicas or len(va_pos) % n_replicas):
        LOG.warning("%d replicas: %d train / %d val row(s) per epoch left out so replicas get equal "
                    "batches", n_replicas, len(tr_pos) % n_replicas, len(va_pos) % n_replicas)
    monitor = "val_loss" if val_ds is not None else "loss"
    epoch_times: list[float] = []
    live = None
    try:
        if mp:
            keras.mixed_precision.set_global_policy("mixed_float16")
        with strategy.scope():
            model = build_model(arch=arch, input_shape=input_shape, n_classes=n_classes, width=width,
                                dense_units=dense_units, dropout=dropout, conv_dropout=conv_dropout,
                                weights=weights, pool=pool, normalise=normalise, stats=stats)
            model.compile(optimizer=keras.optimizers.AdamW(learning_rate=learning_rate,
                                                           weight_decay=weight_decay),
                          loss=keras.losses.SparseCategoricalCrossentropy(),
                          metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                          jit_compile="auto" if gpu else False)  # XLA on CPU: 3x slower steps
        with atomic_dir(out_dir / "weights") as wdir:
            model.save_weights(wdir / "initial.weights.h5")
            callbacks, live = _callbacks(keras=keras, monitor=monitor, patience=patience,
                                         lr_patience=lr_patience, lr_factor=lr_factor,
                                         epoch_dir=wdir if save_epochs else None, live_dir=live_dir,
                                         epoch_times=epoch_times)
            t_fit = time.perf_counter()
            hist = model.fit(train_ds, validation_data=val_ds, epochs=epochs,
                             callbacks=callbacks, verbose=verbose, shuffle=False)
            fit_s = time.perf_counter() - t_fit
        with atomic_path(out_dir / "model.keras") as tmp:
            save_model(model, tmp)
    finally:
        if live is not None:
            live.end()
        keras.mixed_precision.set_global_policy(prev_policy)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    curve = history.get(monitor, [])
    best_epoch = int(np.argmin(curve)) + 1 if curve else len(epoch_times)
    meta = {
        "arch": arch, "class_names": class_names, "input_shape": list(input_shape),
        "n_params": int(model.count_params()), "normalise": normalise, "norm_stats": stats,
        "features_kind": store.meta.get("kind"), "seed": seed, "monitor": monitor,
        "epochs_run": len(epoch_times), "best_epoch": best_epoch,
        "n_train": int(len(tr_pos)), "n_val": int(len(va_pos)),
        "train_class_counts": np.bincount(y_tr, minlength=n_classes).tolist(),
        "class_weight": cw, "augmented_weight": augmented_weight,
        "n_train_augmented": int(aug_tr.sum()), "replicas": int(n_replicas), "mixed_precision": mp,
        "history": history,
        "timings": {"fit_s": round(fit_s, 3), "total_s": round(time.perf_counter() - t_start, 3),
                    "epoch_s": [round(v, 3) for v in epoch_times],
                    "train_samples_per_s": round(len(tr_pos) * len(epoch_times) / max(fit_s, 1e-9), 1)},
        "tensorflow": tf.__version__, "keras": keras.__version__,
    }
    # timings vary run to run: returned (and logged), not stored beside the model, so a
    # forced retraining reproduces the model folder byte for byte
    atomic_write_json(out_dir / "train_meta.json", {k: v for k, v in meta.items() if k != "timings"})
    LOG.info("trained %s: %d epochs (best %d), %.1f s (%.1f samples/s), best %s %.4f", arch,
             len(epoch_times), best_epoch, fit_s, meta["timings"]["train_samples_per_s"], monitor,
             min(curve) if curve else float("nan"))
    return model, meta


def load_train_meta(path: str | Path) -> dict:
    """Read ``train_meta.json``."""
    return json.loads(Path(path).read_text())
