"""Feature shards: a few memory-mappable ``.npy`` arrays plus ``index.csv`` and ``meta.json``.

Layout of a feature folder (see ``docs/contracts.md``, "features")::

    shard_000.npy   float32 (n_0, F, T) dB spectrograms
    shard_001.npy   ...
    index.csv       one row per spectrogram, in global row order: the segments.csv
                    columns + ``shard``, ``row`` (position inside the shard), ``ref_amplitude``
    meta.json       kind, shape [F, T], sample_rate, n_fft, hop_length, n_mels, fmin, fmax,
                    top_db, freqs_hz, frame_s, class_names, normalise, n_rows, shard_size

Global row ``i`` lives in shard ``i // shard_size`` at row ``i % shard_size``.

Reading (the API other stages use)::

    from audiolens.shards import FeatureStore
    store = FeatureStore("data/processed/features")
    store.index          # pandas DataFrame (index.csv), row i = global row i
    store.meta           # dict (meta.json)
    store.shape          # (F, T)
    len(store)           # number of spectrograms
    x = store.get([0, 5, 7])            # (3, F, T) float32, in the order asked
    for rows, x in store.batches(rows, batch_size=64): ...
    x = store.rows([3, 1, 4], channel=True)   # lazy (3, F, T, 1): x[a:b] reads rows a..b-1 only

Writing: :class:`ShardWriter` (used by the spectrogram stage) appends blocks in order, or
allocates every shard up front (:meth:`ShardWriter.allocate`) so that worker processes fill
their rows in place with :func:`write_rows` and only the row count comes back.
"""
from __future__ import annotations

import json
import mmap
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from audiolens.errors import DataError

__all__ = ["FeatureStore", "ShardWriter", "StoreRows", "shard_name", "write_rows"]


def shard_name(i: int) -> str:
    """File name of shard ``i`` (``shard_000.npy``)."""
    return f"shard_{i:03d}.npy"


class ShardWriter:
    """Write ``n_rows`` arrays of shape ``(F, T)`` into fixed-size float32 shards, in order.

    Parameters
    ----------
    out_dir : path
        Folder for the shards (usually a temporary folder from ``atomic_dir``).
    n_rows : int
        Total number of rows that will be appended.
    shape : (int, int)
        ``(F, T)``.
    shard_size : int
        Rows per shard (the last shard may be shorter).
    """

    def __init__(self, out_dir: str | Path, *, n_rows: int, shape: tuple[int, int], shard_size: int):
        if shard_size < 1:
            raise ValueError(f"shard_size must be >= 1 (got {shard_size})")
        self.out_dir = Path(out_dir)
        self.n_rows, self.shape, self.shard_size = int(n_rows), tuple(int(s) for s in shape), int(shard_size)
        self.n_written = 0
        self._allocated = False
        self._shard: np.memmap | None = None
        self._shard_i = -1
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def _open(self, i: int) -> None:
        self._flush()
        rows = min(self.shard_size, self.n_rows - i * self.shard_size)
        self._shard = np.lib.format.open_memmap(self.out_dir / shard_name(i), mode="w+",
                                                dtype=np.float32, shape=(rows, *self.shape))
        self._shard_i = i

    def _flush(self) -> None:
        if self._shard is not None:
            self._shard.flush()
            self._shard = None

    def append(self, block: np.ndarray) -> None:
        """Append ``block`` of shape ``(k, F, T)`` at the next ``k`` global rows."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 3 or block.shape[1:] != self.shape:
            raise ValueError(f"block must have shape (k, {self.shape[0]}, {self.shape[1]}), got {block.shape}")
        if self.n_written + len(block) > self.n_rows:
            raise ValueError(f"more rows than announced ({self.n_written + len(block)} > {self.n_rows})")
        done = 0
        while done < len(block):
            g = self.n_written
            i, r = divmod(g, self.shard_size)
            if i != self._shard_i:
                self._open(i)
            take = min(len(block) - done, len(self._shard) - r)
            self._shard[r: r + take] = block[done: done + take]
            done += take
            self.n_written += take

    def allocate(self) -> None:
        """Create every shard file now (zero-filled, final size) for :func:`write_rows`.

        Rows written elsewhere are then counted with :meth:`advance`; the files end up
        byte-identical to appending the same blocks in order.
        """
        if self.n_written or self._shard is not None:
            raise ValueError("allocate() must come before any append()")
        for i in range(-(-self.n_rows // self.shard_size)):
            rows = min(self.shard_size, self.n_rows - i * self.shard_size)
            np.lib.format.open_memmap(self.out_dir / shard_name(i), mode="w+", dtype=np.float32,
                                      shape=(rows, *self.shape))
        self._allocated = True

    def advance(self, k: int) -> None:
        """Count ``k`` rows written into allocated shards by :func:`write_rows` (in order)."""
        if self.n_written + k > self.n_rows:
            raise ValueError(f"more rows than announced ({self.n_written + k} > {self.n_rows})")
        self.n_written += int(k)

    def close(self) -> None:
        """Flush; raises if fewer rows were appended than announced."""
        self._flush()
        if self.n_written != self.n_rows:
            raise ValueError(f"only {self.n_written} of {self.n_rows} announced rows were written")
        if self._allocated:  # rows written in place by other processes: sync each shard once, as _flush does
            for i in range(-(-self.n_rows // self.shard_size)):
                fd = os.open(self.out_dir / shard_name(i), os.O_RDWR)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        if self.n_rows == 0:
            np.save(self.out_dir / shard_name(0), np.zeros((0, *self.shape), np.float32))

    def locations(self) -> tuple[np.ndarray, np.ndarray]:
        """``(shard, row)`` of every global row, each shape ``(n_rows,)`` int."""
        g = np.arange(self.n_rows)
        return g // self.shard_size, g % self.shard_size


def write_rows(out_dir: str | Path, start: int, block: np.ndarray, *, shard_size: int) -> None:
    """Write ``block`` (k, F, T) float32 at global rows ``start .. start + k - 1`` into shards
    created by :meth:`ShardWriter.allocate` (any process on this machine; disjoint rows).

    Each shard is mapped only for the write and its pages are released after, so a worker
    holds no more than its own block.
    """
    block = np.asarray(block, dtype=np.float32)
    done = 0
    while done < len(block):
        i, r = divmod(start + done, shard_size)
        shard = np.load(Path(out_dir) / shard_name(i), mmap_mode="r+", allow_pickle=False)
        if block.shape[1:] != shard.shape[1:]:
            raise ValueError(f"block rows {block.shape[1:]} do not fit shard rows {shard.shape[1:]}")
        take = min(len(block) - done, len(shard) - r)
        if take <= 0:
            raise ValueError(f"row {start + done} is past shard {i} ({len(shard)} rows)")
        shard[r: r + take] = block[done: done + take]  # into the shared page cache; the writer
        del shard                                       # syncs each shard once (ShardWriter.close)
        done += take


def _unmap_pages(arr: np.ndarray) -> None:
    """Drop a read-only memmap's pages from this process (they stay in the OS page cache).

    Without this, every shard page a stage has read stays mapped and counts in its resident
    memory, so a pass over all features (training, evaluation) grows RSS with the corpus.
    """
    handle = getattr(arr, "_mmap", None)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if handle is not None and advice is not None:
        handle.madvise(advice)


class FeatureStore:
    """Read-only, memory-mapped access to a feature folder (see the module docstring).

    Reads copy the rows out of the memmap and then release its pages, so resident memory
    stays bounded by what the caller holds, whatever the corpus size.

    Parameters
    ----------
    path : path
        The feature folder (``data/processed/features``).
    """

    def __init__(self, path: str | Path):
        from audiolens.segments import read_table

        self.path = Path(path)
        for name in ("index.csv", "meta.json"):
            if not (self.path / name).is_file():
                raise FileNotFoundError(f"{self.path / name} is missing: not a feature folder "
                                        f"(run the spectrogram stage)")
        self.meta: dict = json.loads((self.path / "meta.json").read_text())
        self.index = read_table(self.path / "index.csv")
        self.shape: tuple[int, int] = tuple(int(s) for s in self.meta["shape"])
        self._shards: dict[int, np.ndarray] = {}
        self._shard_of = self.index["shard"].to_numpy(dtype=np.int64) if len(self.index) else np.zeros(0, int)
        self._row_of = self.index["row"].to_numpy(dtype=np.int64) if len(self.index) else np.zeros(0, int)

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.path)!r}, n={len(self)}, shape={self.shape}, kind={self.meta.get('kind')})"

    @property
    def class_names(self) -> list[str]:
        return list(self.meta.get("class_names", []))

    def _shard(self, i: int) -> np.ndarray:
        if i not in self._shards:
            path = self.path / shard_name(i)
            try:  # never unpickle: a shard holding Python objects is refused
                self._shards[i] = np.load(path, mmap_mode="r", allow_pickle=False)
            except ValueError as exc:
                raise DataError(f"{path}: not a numeric feature shard ({exc})") from None
        return self._shards[i]

    def get(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Spectrograms of global ``rows`` (positions in :attr:`index`), in that order.

        Returns
        -------
        ndarray, shape (len(rows), F, T), float32 (a copy, safe to modify)
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"rows must be in [0, {len(self)}) (got {rows.min()}..{rows.max()})")
        out = np.empty((len(rows), *self.shape), dtype=np.float32)
        shards = self._shard_of[rows]
        for s in np.unique(shards):
            sel = np.flatnonzero(shards == s)
            local = self._row_of[rows[sel]]
            order = np.argsort(local, kind="stable")  # ascending reads from the memmap
            shard = self._shard(int(s))
            out[sel[order]] = shard[local[order]]
            _unmap_pages(shard)
        return out

    def rows(self, rows: Sequence[int] | np.ndarray, *, channel: bool = False) -> "StoreRows":
        """A lazily read array view of global ``rows`` (see :class:`StoreRows`); nothing is read yet."""
        return StoreRows(self, rows, channel=channel)

    def batches(self, rows: Iterable[int] | None = None, *, batch_size: int = 64
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(rows_batch, x_batch)`` over ``rows`` (default: all) in order."""
        rows = np.arange(len(self)) if rows is None else np.asarray(list(rows), dtype=np.int64)
        for a in range(0, len(rows), batch_size):
            r = rows[a: a + batch_size]
            yield r, self.get(r)


class StoreRows:
    """Feature-store rows as an array that is read slice by slice (never all at once).

    Stands in for ``store.get(rows)`` (``channel=True``: ``store.get(rows)[..., None]``) in
    code that only takes ``len``, ``shape`` and slices of its input (the batched model calls
    of :mod:`audiolens.models.predict`), so a pass over all test or train spectrograms holds
    one batch, not the split. Slices hold the same values, bitwise, as the eager array's.
    Converting it to a whole array (``np.asarray``) is refused: that is what it avoids.

    Parameters
    ----------
    store : FeatureStore
    rows : sequence of int
        Global rows, in the order wanted.
    channel : bool
        Add a trailing channel axis: items ``(F, T, 1)`` (model inputs) instead of ``(F, T)``.

    Attributes
    ----------
    shape : tuple
        ``(n, F, T)`` or ``(n, F, T, 1)``.
    lazy_rows : bool
        Always True: the marker :func:`audiolens.models.predict.as_rows` looks for.
    """

    lazy_rows = True
    dtype = np.dtype(np.float32)

    def __init__(self, store: FeatureStore, rows: Sequence[int] | np.ndarray, *, channel: bool = False):
        self.store, self.channel = store, bool(channel)
        self.positions = np.asarray(rows, dtype=np.int64).reshape(-1)
        self.shape = (len(self.positions), *store.shape, *((1,) if channel else ()))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self[int(key): int(key) + 1 or None][0]
        if not isinstance(key, (slice, np.ndarray, list)):
            raise TypeError(f"StoreRows takes an int, a slice or an index array, not {type(key).__name__}")
        x = self.store.get(self.positions[key])
        return x[..., None] if self.channel else x

    def __array__(self, *args, **kwargs):
        raise TypeError("StoreRows is read in slices (x[a:b]); materialising all rows is what it avoids")

    @classmethod
    def concat(cls, parts: Sequence["StoreRows"]) -> "StoreRows":
        """One view of several views of the same store (rows of ``parts[0]``, then ``parts[1]``...)."""
        first = parts[0]
        if any(p.store is not first.store or p.channel != first.channel for p in parts):
            raise ValueError("StoreRows.concat needs views of one store with the same channel setting")
        return cls(first.store, np.concatenate([p.positions for p in parts]), channel=first.channel)
