"""Fit wiring: mixed precision, class weights, augmentation, schedule, early stopping, DVCLive.

The distribution strategy and its input pipeline come from :mod:`audiolens.distribution`.

:func:`train_model` is the one entry point; the ``train`` stage and the ensemble-member
stage call it with different seeds and output folders, passing a :class:`TrainSettings`
and a :class:`~audiolens.models.registry.ModelSettings` built from the ``train`` / ``model``
params (``to_settings``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.distribution import input_datasets, prepare_fit, resolve_strategy
from audiolens.errors import DataError, ParameterError
from audiolens.io import atomic_dir, atomic_path, atomic_write_json
from audiolens.split import split_positions
from audiolens.tfdata import BatchAugment, dataset_stats, open_features

if TYPE_CHECKING:
    from audiolens.models.settings import ModelSettings

__all__ = ["TrainSettings", "train_model", "sample_weights", "learning_rate_schedule",
           "batch_augment", "smoothed_early_stopping"]

LOG = logging.getLogger("audiolens.training")


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    """Optimisation, augmentation, early stopping and checkpointing (the ``train`` params).

    Attributes
    ----------
    epochs, batch_size : int
        Most epochs; batch size per replica.
    learning_rate, weight_decay : float
        AdamW peak learning rate and decoupled weight decay.
    lr_schedule : {"cosine", "plateau"}
        ``cosine``: linear warmup from 0 over ``warmup_epochs`` then cosine decay to 0 at the
        last step (:func:`learning_rate_schedule`); ``plateau``: constant, multiplied by
        ``lr_factor`` after ``lr_patience`` epochs without improvement of the monitor.
    warmup_epochs : int
        Warmup length (cosine only), < epochs.
    lr_patience : int
    lr_factor : float
    monitor : {"val_loss", "val_accuracy"}
        Validation metric for early stopping and best weights (train loss without a val split).
    monitor_smoothing : float
        Exponential moving average weight of the past, 0..1 (0: the raw metric); early
        stopping and the best epoch follow the smoothed curve.
    patience : int
        Epochs without improvement of the smoothed monitor before stopping.
    min_epochs : int
        Training never stops before this many epochs (<= epochs).
    label_smoothing : float
        Cross-entropy label smoothing, 0..1.
    class_weight : {"balanced", "none"}
    augmented_weight : float
        Weight of an augmented (time-stretched) segment relative to an original.
    gain_db, shift_frames, specaugment, freq_masks, time_masks, max_freq, max_time, mixup_alpha
        Batch augmentations (see :class:`audiolens.tfdata.BatchAugment`).
    seed : int
        Seeds Python/NumPy/TF, the data order and every augmentation.
    save_epochs : bool
        Write ``weights/epoch_NNN.weights.h5`` after every epoch.
    distribute : {"auto", "none", "mirrored", "multi_worker"}
        See :mod:`audiolens.distribution`.
    mixed_precision : {"auto", "on", "off"}
    """

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    lr_schedule: str
    warmup_epochs: int
    lr_patience: int
    lr_factor: float
    monitor: str
    monitor_smoothing: float
    patience: int
    min_epochs: int
    label_smoothing: float
    class_weight: str
    augmented_weight: float
    gain_db: float
    shift_frames: int
    specaugment: bool
    freq_masks: int
    time_masks: int
    max_freq: float
    max_time: float
    mixup_alpha: float
    seed: int
    save_epochs: bool
    distribute: str
    mixed_precision: str

    def __post_init__(self) -> None:
        if self.min_epochs > self.epochs:
            raise ParameterError(f"min_epochs ({self.min_epochs}) must be <= epochs ({self.epochs})")
        if self.lr_schedule not in ("cosine", "plateau"):
            raise ParameterError(f"lr_schedule: unknown value {self.lr_schedule!r} (cosine, plateau)")
        if self.lr_schedule == "cosine" and self.warmup_epochs >= self.epochs:
            raise ParameterError(f"warmup_epochs ({self.warmup_epochs}) must be < epochs ({self.epochs})")
        if self.monitor not in ("val_loss", "val_accuracy"):
            raise ParameterError(f"monitor: unknown value {self.monitor!r} (val_loss, val_accuracy)")
        if not 0.0 <= self.monitor_smoothing < 1.0:
            raise ParameterError(f"monitor_smoothing must be in [0, 1) (got {self.monitor_smoothing})")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ParameterError(f"label_smoothing must be in [0, 1) (got {self.label_smoothing})")


def batch_augment(settings: TrainSettings) -> BatchAugment | None:
    """The batch augmentations ``settings`` asks for (None when all are off)."""
    aug = BatchAugment(gain_db=settings.gain_db, shift_frames=settings.shift_frames,
                       specaugment=settings.specaugment, freq_masks=settings.freq_masks,
                       time_masks=settings.time_masks, max_freq=settings.max_freq,
                       max_time=settings.max_time, mixup_alpha=settings.mixup_alpha)
    active = aug.gain_db > 0 or aug.shift_frames > 0 or aug.specaugment or aug.mixup_alpha > 0
    return aug if active else None


def learning_rate_schedule(*, learning_rate: float, warmup_steps: int, total_steps: int):
    """Linear warmup ``0 -> learning_rate`` over ``warmup_steps``, then cosine decay to 0 at ``total_steps``.

    Returns a ``keras.optimizers.schedules.CosineDecay`` (serialisable with the model).
    """
    import keras

    if total_steps <= warmup_steps:
        raise ParameterError(f"total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps})")
    if warmup_steps > 0:
        return keras.optimizers.schedules.CosineDecay(0.0, total_steps - warmup_steps, alpha=0.0,
                                                      warmup_target=learning_rate, warmup_steps=warmup_steps)
    return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps, alpha=0.0)


def smoothed_early_stopping(*, monitor: str, smoothing: float, patience: int, min_epochs: int):
    """A Keras callback: early stopping on an EMA of ``monitor`` that never stops before ``min_epochs``.

    The smoothed value ``s_e = smoothing * s_(e-1) + (1 - smoothing) * v_e`` (``s_1 = v_1``)
    is minimised (maximised for ``*accuracy``); after ``patience`` epochs without a new best,
    from epoch ``min_epochs`` on, training stops. At the end the weights of the best
    smoothed epoch are restored; ``best_epoch`` (1-based) and ``smoothed`` are kept on the callback.
    """
    import keras

    sign = -1.0 if "accuracy" in monitor else 1.0

    class SmoothedEarlyStopping(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.smoothed, self.best, self.best_epoch = [], np.inf, 0
            self.best_weights, self.wait, self.stopped_epoch = None, 0, 0

        def on_epoch_end(self, epoch, logs=None):
            v = float((logs or {})[monitor])
            s = v if not self.smoothed else smoothing * self.smoothed[-1] + (1 - smoothing) * v
            self.smoothed.append(s)
            if sign * s < self.best:
                self.best, self.best_epoch, self.wait = sign * s, epoch + 1, 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
            if epoch + 1 >= min_epochs and self.wait >= patience:
                self.model.stop_training = True
                self.stopped_epoch = epoch + 1

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return SmoothedEarlyStopping()


def sample_weights(labels, augmented, n_classes: int, *, class_weight: str,
                   augmented_weight: float) -> np.ndarray:
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
        raise ParameterError(f"class_weight: unknown value {class_weight!r} (balanced, none)")
    return (w / w.mean()).astype(np.float32) if w.sum() > 0 else w.astype(np.float32)


def _use_mixed_precision(mode: str) -> bool:
    import tensorflow as tf

    if mode not in ("auto", "on", "off"):
        raise ParameterError(f"mixed_precision: unknown value {mode!r} (auto, on, off)")
    return mode == "on" or (mode == "auto" and bool(tf.config.list_physical_devices("GPU")))


def _callbacks(*, keras, settings: TrainSettings, monitor: str, epoch_dir: Path | None,
               live_dir: str | Path | None, epoch_times: list):
    class EpochLog(keras.callbacks.Callback):
        """Per-epoch wall time and (optionally) weights ``epoch_NNN.weights.h5`` (1-based)."""

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self._t0)
            if epoch_dir is not None:
                self.model.save_weights(epoch_dir / f"epoch_{epoch + 1:03d}.weights.h5")

    stopper = smoothed_early_stopping(monitor=monitor, smoothing=settings.monitor_smoothing,
                                      patience=settings.patience, min_epochs=settings.min_epochs)
    cbs = [EpochLog()]
    if settings.lr_schedule == "plateau":
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=settings.lr_factor,
                                                     patience=settings.lr_patience, min_lr=1e-6, verbose=0))
    cbs.append(stopper)
    live = None
    if live_dir is not None:
        from dvclive import Live
        from dvclive.keras import DVCLiveCallback

        live = Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False)
        cbs.append(DVCLiveCallback(live=live))
    return cbs, stopper, live


def train_model(*, features_dir: str | Path, split: str | Path | pd.DataFrame, out_dir: str | Path,
                settings: TrainSettings, model_settings: "ModelSettings",
                live_dir: str | Path | None = None, train_split: str = "train",
                val_split: str = "val", verbose: int = 2):
    """Train one model on the feature shards and save it under ``out_dir``.

    Parameters
    ----------
    features_dir : path
        Spectrogram stage output (``index.csv``, ``meta.json``, shards).
    split : path or DataFrame
        ``split.csv`` (``segment_id, split``); rows with ``split == train_split`` train,
        ``val_split`` drive early stopping / best weights (none: monitor the train loss).
    out_dir : path
        Writes ``model.keras``, ``weights/initial.weights.h5``,
        ``weights/epoch_NNN.weights.h5`` (when ``settings.save_epochs``) and ``train_meta.json``.
    settings : TrainSettings
        Optimisation, augmentation and early stopping.
    model_settings : ModelSettings
        The architecture (:func:`audiolens.models.registry.build_model`). The normalisation
        is the features' (``meta.json`` ``normalise``); ``dataset`` computes per-frequency stats
        on the train split and stores them in the model and in ``train_meta.json``.
    live_dir : path, optional
        DVCLive folder for learning curves (``None``: no DVCLive).

    Returns
    -------
    model : keras.Model
        The trained model (weights of the best smoothed validation epoch).
    meta : dict
        What ``train_meta.json`` holds: class names, input shape, normalisation and its
        stats, history, best epoch, counts; plus ``timings`` (fit and per-epoch seconds),
        which are not written there because they differ between identical runs.
    """
    import keras
    import tensorflow as tf

    from audiolens.models.registry import build_model, save_model

    t_start = time.perf_counter()
    ts, ms = settings, model_settings
    out_dir = Path(out_dir)
    store = open_features(features_dir)
    split_df = pd.read_csv(split, keep_default_na=False) if not isinstance(split, pd.DataFrame) else split
    class_names = list(store.meta.get("class_names") or [])
    n_classes = len(class_names)
    if n_classes < 2:
        raise DataError(f"{features_dir}/meta.json: need >= 2 class_names, got {class_names}")
    tr_pos = split_positions(store.index, split_df, train_split)
    va_pos = split_positions(store.index, split_df, val_split)
    if len(tr_pos) == 0:
        raise DataError(f"split has no {train_split!r} rows")
    y_all = store.index["label_index"].to_numpy(dtype=np.int64)
    y_tr, y_va = y_all[tr_pos], y_all[va_pos]
    missing = sorted(set(range(n_classes)) - set(np.unique(y_tr).tolist()))
    if missing:
        LOG.warning("classes without training examples: %s", [class_names[i] for i in missing])
    normalise = store.meta.get("normalise", "per_sample")
    stats = dataset_stats(store, tr_pos) if normalise == "dataset" else None
    F, T = store.shape
    input_shape = (F, T, 1)

    strategy = resolve_strategy(ts.distribute)  # first: multi_worker must precede device set-up
    keras.utils.set_random_seed(ts.seed)
    mp = _use_mixed_precision(ts.mixed_precision)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    prev_policy = keras.mixed_precision.dtype_policy().name
    n_replicas = strategy.num_replicas_in_sync
    LOG.info("training %s on %d segments (val %d), input %s, %d classes, %d replica(s)%s",
             ms.arch, len(tr_pos), len(va_pos), input_shape, n_classes, n_replicas,
             ", mixed precision" if mp else "")
    aug_tr = (store.index["augmented"].to_numpy(bool)[tr_pos] if "augmented" in store.index
              else np.zeros(len(tr_pos), bool))
    sw = sample_weights(y_tr, aug_tr, n_classes, class_weight=ts.class_weight,
                        augmented_weight=ts.augmented_weight)
    cw = {int(c): float(sw[y_tr == c].mean()) if (y_tr == c).any() else 0.0 for c in range(n_classes)}
    train_ds, val_ds, steps = input_datasets(strategy, store, train=(tr_pos, y_tr), val=(va_pos, y_va),
                                             batch_size=ts.batch_size, seed=ts.seed, augment=batch_augment(ts),
                                             n_classes=n_classes, weights=sw)
    if n_replicas > 1 and (len(tr_pos) % n_replicas or len(va_pos) % n_replicas):
        LOG.warning("%d replicas: %d train / %d val row(s) per epoch left out so replicas get equal "
                    "batches", n_replicas, len(tr_pos) % n_replicas, len(va_pos) % n_replicas)
    monitor = ts.monitor if val_ds is not None else "loss"
    lr = (learning_rate_schedule(learning_rate=ts.learning_rate, warmup_steps=ts.warmup_epochs * steps,
                                 total_steps=ts.epochs * steps)
          if ts.lr_schedule == "cosine" else ts.learning_rate)
    epoch_times: list[float] = []
    live = None
    try:
        if mp:
            keras.mixed_precision.set_global_policy("mixed_float16")
        with strategy.scope():
            model = build_model(ms, input_shape=input_shape, n_classes=n_classes, normalise=normalise,
                                stats=stats)
            model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr, weight_decay=ts.weight_decay),
                          loss=keras.losses.CategoricalCrossentropy(label_smoothing=ts.label_smoothing),
                          metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                          jit_compile="auto" if gpu else False)  # XLA on CPU: 3x slower steps
        prepare_fit(model, strategy, batch_size=ts.batch_size, input_shape=input_shape, n_classes=n_classes)
        with atomic_dir(out_dir / "weights") as wdir:
            model.save_weights(wdir / "initial.weights.h5")
            callbacks, stopper, live = _callbacks(keras=keras, settings=ts, monitor=monitor,
                                                  epoch_dir=wdir if ts.save_epochs else None,
                                                  live_dir=live_dir, epoch_times=epoch_times)
            t_fit = time.perf_counter()
            hist = model.fit(train_ds, validation_data=val_ds, epochs=ts.epochs,
                             callbacks=callbacks, verbose=verbose, shuffle=False)
            fit_s = time.perf_counter() - t_fit
        with atomic_path(out_dir / "model.keras") as tmp:
            save_model(model, tmp)
    finally:
        if live is not None:
            live.end()
        keras.mixed_precision.set_global_policy(prev_policy)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    best_epoch = stopper.best_epoch or len(epoch_times)
    meta = {
        "arch": ms.arch, "class_names": class_names, "input_shape": list(input_shape),
        "n_params": int(model.count_params()), "normalise": normalise, "norm_stats": stats,
        "features_kind": store.meta.get("kind"), "seed": ts.seed, "monitor": monitor,
        "monitor_smoothed": [float(v) for v in stopper.smoothed],
        "epochs_run": len(epoch_times), "best_epoch": best_epoch,
        "n_train": int(len(tr_pos)), "n_val": int(len(va_pos)),
        "train_class_counts": np.bincount(y_tr, minlength=n_classes).tolist(),
        "class_weight": cw, "augmented_weight": ts.augmented_weight,
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
    LOG.info("trained %s: %d epochs (best %d), %.1f s (%.1f samples/s), best smoothed %s %.4f", ms.arch,
             len(epoch_times), best_epoch, fit_s, meta["timings"]["train_samples_per_s"], monitor,
             stopper.smoothed[best_epoch - 1] if stopper.smoothed else float("nan"))
    return model, meta
