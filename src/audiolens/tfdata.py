"""tf.data pipelines streaming dB spectrograms from feature shards.

Feature shards (see docs/contracts.md) are read through :class:`audiolens.shards.FeatureStore`
(memory-mapped); a batch is gathered from them on demand, so the data never has to fit in
memory. Shuffling and SpecAugment are done with a NumPy generator seeded by
``(seed, epoch)``, so a training run is reproducible.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from audiolens.shards import FeatureStore

__all__ = ["FeatureStore", "open_features", "dataset_stats", "spec_augment", "BatchStream",
           "make_dataset"]


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


def spec_augment(x: np.ndarray, rng: np.random.Generator, *, freq_masks: int = 2,
                 time_masks: int = 2, max_freq: float = 0.15, max_time: float = 0.15) -> np.ndarray:
    """SpecAugment masking of a batch (in place and returned).

    Parameters
    ----------
    x : ndarray, shape (n, F, T)
        dB spectrograms; masked bands are set to each sample's mean dB.
    rng : numpy Generator
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


class BatchStream:
    """A re-iterable batch generator for ``tf.data.Dataset.from_generator``.

    Each call starts a new epoch: positions are reshuffled with ``(seed, epoch)``
    when ``shuffle`` and SpecAugment is applied when ``specaugment``. With
    ``multiple_of = r > 1`` (r replicas of a distribution strategy) every batch size is a
    multiple of r, so replicas get equal shares: the last batch loses at most r - 1 rows.
    """

    def __init__(self, store: FeatureStore, positions, labels, *, batch_size: int,
                 shuffle: bool, seed: int = 0, specaugment: bool = False, multiple_of: int = 1,
                 weights=None):
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
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.specaugment = specaugment
        self.epoch = 0

    @property
    def n_used(self) -> int:
        """Rows yielded per epoch (all unless trimmed to a multiple of the replicas)."""
        return len(self.positions) - len(self.positions) % self.multiple_of

    def __len__(self) -> int:
        return int(np.ceil(self.n_used / self.batch_size))

    def __call__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        order = rng.permutation(len(self.positions)) if self.shuffle else np.arange(len(self.positions))
        order = order[:self.n_used]
        for i in range(0, len(order), self.batch_size):
            sel = order[i:i + self.batch_size]
            x = self.store.get(self.positions[sel])
            if self.specaugment:
                spec_augment(x, rng)
            if self.weights is None:
                yield x[..., None], self.labels[sel]
            else:
                yield x[..., None], self.labels[sel], self.weights[sel]


def make_dataset(store: FeatureStore, positions, labels, *, batch_size: int, shuffle: bool = False,
                 seed: int = 0, specaugment: bool = False, replicas: int = 1, weights=None):
    """A ``tf.data.Dataset`` of ``(x, y)`` batches: x float32 ``(b, F, T, 1)`` dB, y int64 ``(b,)``.

    With per-row ``weights`` the batches are ``(x, y, w)`` (Keras sample weights).
    Streams from the shards (prefetched); iterate it once per epoch. ``batch_size`` is the
    global batch; with ``replicas > 1`` see :class:`BatchStream` (``multiple_of``).
    """
    import tensorflow as tf

    f, t = store.shape
    stream = BatchStream(store, positions, labels, batch_size=batch_size, shuffle=shuffle,
                         seed=seed, specaugment=specaugment, multiple_of=replicas, weights=weights)
    sig = (tf.TensorSpec((None, f, t, 1), tf.float32), tf.TensorSpec((None,), tf.int64))
    if weights is not None:
        sig = (*sig, tf.TensorSpec((None,), tf.float32))
    ds = tf.data.Dataset.from_generator(stream, output_signature=sig)
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(stream)))
    return ds.prefetch(tf.data.AUTOTUNE)
