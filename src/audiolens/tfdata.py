"""tf.data pipelines streaming dB spectrograms from feature shards.

Feature shards (see docs/contracts.md) are read through :class:`audiolens.shards.FeatureStore`
(memory-mapped); a batch is gathered from them on demand, so the data never has to fit in
memory. Shuffling and every random augmentation (gain, time shift, SpecAugment, mixup) are
drawn from a NumPy generator seeded by ``(seed, epoch)``, so a training run is reproducible.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiolens.errors import ParameterError
from audiolens.shards import FeatureStore

__all__ = ["FeatureStore", "open_features", "dataset_stats", "BatchAugment", "spec_augment", "random_gain",
           "random_shift", "mixup", "augment_batch", "BatchStream", "make_dataset"]


def open_features(root: str | Path) -> FeatureStore:
    """Open a features folder (:class:`audiolens.shards.FeatureStore`) and check the columns training needs.

    Raises
    ------
    FileNotFoundError
        Naming the missing ``index.csv`` / ``meta.json``.
    ValueError
        If ``index.csv`` lacks ``segment_id``, ``shard``, ``row`` or ``label_index``.
    """
    store = FeatureStore(root)
    missing = {"segment_id", "shard", "row", "label_index"} - set(store.index.columns)
    if missing:
        raise ValueError(f"{Path(root) / 'index.csv'}: missing columns {sorted(missing)}")
    return store


def dataset_stats(store: FeatureStore, positions, *, batch: int = 512) -> dict:
    """Per-frequency-bin dB mean and std over ``positions`` (the train split).

    Returns
    -------
    dict
        ``{"mean": [F floats], "std": [F floats]}`` (dB), for ``DatasetStandardize``.
    """
    positions = np.asarray(positions)
    if len(positions) == 0:
        raise ValueError("dataset_stats: no rows (is the train split empty?)")
    f, t = store.shape
    s1 = np.zeros(f, np.float64)
    s2 = np.zeros(f, np.float64)
    for i in range(0, len(positions), batch):
        x = store.get(positions[i:i + batch]).astype(np.float64)
        s1 += x.sum(axis=(0, 2))
        s2 += np.square(x).sum(axis=(0, 2))
    n = len(positions) * t
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0))
    return {"mean": mean.tolist(), "std": std.tolist()}


@dataclass(frozen=True, kw_only=True)
class BatchAugment:
    """Random augmentations of training batches, applied in this order (each off at 0 / False).

    Attributes
    ----------
    gain_db : float
        Largest level change: each sample is offset by ``U(-gain_db, gain_db)`` dB (0: off).
    shift_frames : int
        Largest time shift (frames): each sample is shifted by ``U{-s..s}``; the frames shifted
        out are dropped and the vacated ones filled with the sample's minimum dB (silence), so the
        content stays inside the recording (never wraps around). 0: off.
    specaugment : bool
        Time/frequency masking (:func:`spec_augment`) with the next four fields.
    freq_masks, time_masks : int
        Bands of each kind per sample.
    max_freq, max_time : float
        Largest band width as a fraction of F / T.
    mixup_alpha : float
        Mixup with weights ``lam ~ Beta(alpha, alpha)`` per sample (0: off); needs one-hot labels.
    """

    gain_db: float
    shift_frames: int
    specaugment: bool
    freq_masks: int
    time_masks: int
    max_freq: float
    max_time: float
    mixup_alpha: float

    def __post_init__(self) -> None:
        for name in ("gain_db", "mixup_alpha", "max_freq", "max_time", "shift_frames", "freq_masks", "time_masks"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.max_freq > 1 or self.max_time > 1:
            raise ParameterError("max_freq and max_time are fractions of the axis (<= 1)")


def spec_augment(x: np.ndarray, rng: np.random.Generator, *, freq_masks: int, time_masks: int,
                 max_freq: float, max_time: float) -> np.ndarray:
    """SpecAugment masking of a batch (in place and returned).

    Parameters
    ----------
    x : ndarray, shape (n, F, T)
        dB spectrograms; masked bands are set to each sample's mean dB.
    rng : numpy Generator
        Draws, per sample, each band's width ``U{0..floor(max * axis)}`` then its start.
    freq_masks, time_masks : int
        Number of bands of each kind per sample.
    max_freq, max_time : float
        Largest band width as a fraction of F / T.
    """
    n, f, t = x.shape
    fill = x.mean(axis=(1, 2))
    for i in range(n):
        for _ in range(freq_masks):
            w = int(rng.integers(0, max(1, int(max_freq * f)) + 1))
            s = int(rng.integers(0, f - w + 1))
            x[i, s:s + w, :] = fill[i]
        for _ in range(time_masks):
            w = int(rng.integers(0, max(1, int(max_time * t)) + 1))
            s = int(rng.integers(0, t - w + 1))
            x[i, :, s:s + w] = fill[i]
    return x


def random_gain(x: np.ndarray, rng: np.random.Generator, *, gain_db: float) -> np.ndarray:
    """Offset each sample of ``x (n, F, T)`` dB by ``U(-gain_db, gain_db)`` dB (in place and returned)."""
    x += rng.uniform(-gain_db, gain_db, size=(len(x), 1, 1)).astype(x.dtype)
    return x


def random_shift(x: np.ndarray, rng: np.random.Generator, *, max_frames: int) -> np.ndarray:
    """Shift each sample of ``x (n, F, T)`` in time by ``U{-max..max}`` frames (in place and returned).

    Frames shifted past an edge are dropped; the vacated frames take the sample's minimum dB
    (silence), so a training window only ever shows frames of its own recording.
    """
    n, _, t = x.shape
    shifts = rng.integers(-max_frames, max_frames + 1, size=n)
    for i, s in enumerate(shifts):
        s = int(np.clip(s, -t, t))
        if s == 0:
            continue
        floor = x[i].min()
        if s > 0:
            x[i, :, s:] = x[i, :, :t - s].copy()
            x[i, :, :s] = floor
        else:
            x[i, :, :t + s] = x[i, :, -s:].copy()
            x[i, :, t + s:] = floor
    return x


def mixup(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, alpha: float, weights=None):
    """Mix each sample with a random partner of the same batch.

    ``lam ~ Beta(alpha, alpha)`` per sample, partner ``perm[i]``; returns
    ``x' = lam x + (1 - lam) x[perm]``, ``y' = lam y + (1 - lam) y[perm]`` (``y`` one-hot
    ``(n, C)``), the mixed weights (or None), ``lam`` and ``perm``.
    """
    n = len(x)
    lam = rng.beta(alpha, alpha, size=n).astype(np.float32)
    perm = rng.permutation(n)
    xm = lam[:, None, None] * x + (1 - lam)[:, None, None] * x[perm]
    ym = lam[:, None] * y + (1 - lam)[:, None] * y[perm]
    wm = None if weights is None else (lam * weights + (1 - lam) * weights[perm]).astype(np.float32)
    return xm.astype(np.float32), ym.astype(np.float32), wm, lam, perm


def augment_batch(x: np.ndarray, y: np.ndarray, w, rng: np.random.Generator, aug: BatchAugment):
    """Apply ``aug`` to one batch ``x (n, F, T)``, labels ``y`` (one-hot when mixing), weights ``w``."""
    if aug.gain_db > 0:
        random_gain(x, rng, gain_db=aug.gain_db)
    if aug.shift_frames > 0:
        random_shift(x, rng, max_frames=aug.shift_frames)
    if aug.specaugment:
        spec_augment(x, rng, freq_masks=aug.freq_masks, time_masks=aug.time_masks,
                     max_freq=aug.max_freq, max_time=aug.max_time)
    if aug.mixup_alpha > 0:
        if y.ndim != 2:
            raise ParameterError("mixup needs one-hot labels (give n_classes)")
        x, y, w, _, _ = mixup(x, y, rng, alpha=aug.mixup_alpha, weights=w)
    return x, y, w


class BatchStream:
    """A re-iterable batch generator for ``tf.data.Dataset.from_generator``.

    Each call starts a new epoch with a NumPy generator seeded by ``(seed, epoch)``:
    positions are reshuffled when ``shuffle`` and ``augment`` (a :class:`BatchAugment`) is
    applied to every batch, so an epoch's batches depend only on the seed and the epoch.
    With ``n_classes`` the labels are one-hot float32 ``(b, C)``, else int64 ``(b,)``. With
    ``multiple_of = r > 1`` (r replicas of a distribution strategy) every batch size is a
    multiple of r, so replicas get equal shares: the last batch loses at most r - 1 rows.
    With ``shard = (k, K)`` (worker k of K, each with r / K replicas) it reads and yields only
    block k of every global batch, as r / K per-replica batches, and draws its augmentations
    from ``(seed, epoch, k)``; the K blocks of one step together are the unsharded batch.
    """

    def __init__(self, store: FeatureStore, positions, labels, *, batch_size: int,
                 shuffle: bool, seed: int = 0, augment: BatchAugment | None = None,
                 n_classes: int | None = None, multiple_of: int = 1, weights=None,
                 shard: tuple[int, int] = (0, 1)):
        self.store = store
        self.positions = np.asarray(positions, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float32)
        if len(self.positions) != len(self.labels) or (self.weights is not None
                                                       and len(self.weights) != len(self.labels)):
            raise ValueError("positions, labels and weights differ in length")
        self.multiple_of = max(1, int(multiple_of))
        if batch_size % self.multiple_of:
            raise ValueError(f"batch_size {batch_size} is not a multiple of {self.multiple_of} replicas")
        if augment is not None and augment.mixup_alpha > 0 and n_classes is None:
            raise ParameterError("mixup needs one-hot labels: give n_classes")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.augment = augment
        self.n_classes = n_classes
        self.shard = (int(shard[0]), int(shard[1]))
        if not 0 <= self.shard[0] < self.shard[1] or self.multiple_of % self.shard[1]:
            raise ValueError(f"shard {shard}: need 0 <= k < K and {self.multiple_of} replicas divisible by K")
        self.epoch = 0

    @property
    def n_used(self) -> int:
        """Rows yielded per epoch (all unless trimmed to a multiple of the replicas)."""
        return len(self.positions) - len(self.positions) % self.multiple_of

    def __len__(self) -> int:
        parts = self.multiple_of // self.shard[1] if self.shard[1] > 1 else 1
        return int(np.ceil(self.n_used / self.batch_size)) * parts

    def _selections(self, order: np.ndarray):
        """Row selections to yield: each global batch, or this worker's per-replica parts of it."""
        k, n_workers = self.shard
        for i in range(0, len(order), self.batch_size):
            sel = order[i:i + self.batch_size]
            if n_workers == 1:
                yield sel
                continue
            block = len(sel) // n_workers
            yield from np.split(sel[k * block:(k + 1) * block], self.multiple_of // n_workers)

    def __call__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.positions)) if self.shuffle else np.arange(len(self.positions))
        if self.shard[1] > 1:  # the same order on every worker, independent augmentation draws
            rng = np.random.default_rng([self.seed, self.epoch, self.shard[0]])
        self.epoch += 1
        for sel in self._selections(order[:self.n_used]):
            x = self.store.get(self.positions[sel])
            y = self.labels[sel]
            if self.n_classes is not None:
                y = np.eye(self.n_classes, dtype=np.float32)[y]
            w = None if self.weights is None else self.weights[sel]
            if self.augment is not None:
                x, y, w = augment_batch(x, y, w, rng, self.augment)
            if w is None:
                yield x[..., None], y
            else:
                yield x[..., None], y, w


def make_dataset(store: FeatureStore, positions, labels, *, batch_size: int, shuffle: bool = False,
                 seed: int = 0, augment: BatchAugment | None = None, n_classes: int | None = None,
                 replicas: int = 1, weights=None, shard: tuple[int, int] = (0, 1)):
    """A ``tf.data.Dataset`` of ``(x, y)`` batches: x float32 ``(b, F, T, 1)`` dB, y int64 ``(b,)``
    (one-hot float32 ``(b, C)`` with ``n_classes``).

    With per-row ``weights`` the batches are ``(x, y, w)`` (Keras sample weights); ``augment``
    and ``seed``: see :class:`BatchStream`.
    Streams from the shards (prefetched); iterate it once per epoch. ``batch_size`` is the
    global batch; with ``replicas > 1`` see :class:`BatchStream` (``multiple_of``); ``shard``
    (worker k of K): this worker's per-replica batches only (:class:`BatchStream`).
    """
    import tensorflow as tf

    f, t = store.shape
    stream = BatchStream(store, positions, labels, batch_size=batch_size, shuffle=shuffle,
                         seed=seed, augment=augment, n_classes=n_classes, multiple_of=replicas,
                         weights=weights, shard=shard)
    ysig = (tf.TensorSpec((None,), tf.int64) if n_classes is None
            else tf.TensorSpec((None, int(n_classes)), tf.float32))
    sig = (tf.TensorSpec((None, f, t, 1), tf.float32), ysig)
    if weights is not None:
        sig = (*sig, tf.TensorSpec((None,), tf.float32))
    ds = tf.data.Dataset.from_generator(stream, output_signature=sig)
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(stream)))
    return ds.prefetch(tf.data.AUTOTUNE)
