"""tf.data pipelines streaming dB spectrograms from feature shards.

Feature shards (see docs/contracts.md): ``index.csv`` (one row per segment, with ``shard``
and ``row``), ``shard_NNN.npy`` float32 ``(n, F, T)`` dB, ``meta.json``. Shards are opened
memory-mapped; a batch is gathered from them on demand, so the data never has to fit in
memory. Shuffling and SpecAugment are done with a NumPy generator seeded by
``(seed, epoch)``, so a training run is reproducible.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["FeatureStore", "open_features", "dataset_stats", "spec_augment", "BatchStream",
           "make_dataset"]


def _shard_name(value) -> str:
    if isinstance(value, str) and value.endswith(".npy"):
        return value
    return f"shard_{int(value):03d}.npy"


@dataclass
class FeatureStore:
    """Memory-mapped access to a features folder.

    Attributes
    ----------
    root : Path
    index : DataFrame
        ``index.csv`` (one row per segment; positions below are row positions in it).
    meta : dict
        ``meta.json`` (``shape`` = [F, T], ``class_names``, ...).
    """

    root: Path
    index: pd.DataFrame
    meta: dict
    _shards: dict = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """Spectrogram shape ``(F, T)``."""
        return tuple(int(v) for v in self.meta["shape"])

    def _shard(self, name: str) -> np.ndarray:
        if name not in self._shards:
            path = self.root / name
            if not path.is_file():
                raise FileNotFoundError(f"feature shard missing: {path} (named in {self.root}/index.csv)")
            self._shards[name] = np.load(path, mmap_mode="r")
        return self._shards[name]

    def get(self, positions) -> np.ndarray:
        """Spectrograms at index-row ``positions``: float32 ``(n, F, T)`` dB, in the given order."""
        positions = np.asarray(positions, dtype=np.int64)
        out = np.empty((len(positions), *self.shape), dtype=np.float32)
        sub = self.index.iloc[positions]
        shards = sub["shard"].map(_shard_name).to_numpy()
        rows = sub["row"].to_numpy(dtype=np.int64)
        for name in pd.unique(shards):
            sel = np.flatnonzero(shards == name)
            order = np.argsort(rows[sel], kind="stable")  # read each shard sequentially
            out[sel[order]] = self._shard(name)[rows[sel][order]]
        return out


def open_features(root: str | Path) -> FeatureStore:
    """Open a features folder (``index.csv``, ``meta.json``, ``shard_NNN.npy``).

    Raises
    ------
    FileNotFoundError
        Naming the missing file.
    ValueError
        If ``index.csv`` lacks ``segment_id``, ``shard`` or ``row``.
    """
    root = Path(root)
    for name in ("index.csv", "meta.json"):
        if not (root / name).is_file():
            raise FileNotFoundError(f"features folder {root} has no {name} (run the spectrogram stage)")
    index = pd.read_csv(root / "index.csv", keep_default_na=False, dtype={"speaker": str, "group": str,
                                                                            "fold": str})
    missing = {"segment_id", "shard", "row", "label_index"} - set(index.columns)
    if missing:
        raise ValueError(f"{root / 'index.csv'}: missing columns {sorted(missing)}")
    meta = json.loads((root / "meta.json").read_text())
    if "shape" not in meta:
        raise ValueError(f"{root / 'meta.json'}: no 'shape' [F, T]")
    return FeatureStore(root=root, index=index, meta=meta)


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
    when ``shuffle`` and SpecAugment is applied when ``specaugment``.
    """

    def __init__(self, store: FeatureStore, positions, labels, *, batch_size: int,
                 shuffle: bool, seed: int = 0, specaugment: bool = False):
        self.store = store
        self.positions = np.asarray(positions, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)
        if len(self.positions) != len(self.labels):
            raise ValueError("positions and labels differ in length")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.specaugment = specaugment
        self.epoch = 0

    def __len__(self) -> int:
        return int(np.ceil(len(self.positions) / self.batch_size))

    def __call__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        order = rng.permutation(len(self.positions)) if self.shuffle else np.arange(len(self.positions))
        for i in range(0, len(order), self.batch_size):
            sel = order[i:i + self.batch_size]
            x = self.store.get(self.positions[sel])
            if self.specaugment:
                spec_augment(x, rng)
            yield x[..., None], self.labels[sel]


def make_dataset(store: FeatureStore, positions, labels, *, batch_size: int, shuffle: bool = False,
                 seed: int = 0, specaugment: bool = False):
    """A ``tf.data.Dataset`` of ``(x, y)`` batches: x float32 ``(b, F, T, 1)`` dB, y int64 ``(b,)``.

    Streams from the shards (prefetched); iterate it once per epoch.
    """
    import tensorflow as tf

    f, t = store.shape
    stream = BatchStream(store, positions, labels, batch_size=batch_size, shuffle=shuffle,
                         seed=seed, specaugment=specaugment)
    ds = tf.data.Dataset.from_generator(
        stream, output_signature=(tf.TensorSpec((None, f, t, 1), tf.float32),
                                  tf.TensorSpec((None,), tf.int64)))
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(stream)))
    return ds.prefetch(tf.data.AUTOTUNE)
