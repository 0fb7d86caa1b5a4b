"""Featurise segments: dB spectrogram shards, ``meta.json`` content, gallery PNGs."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.errors import DataError
from audiolens.features import SpectrogramConfig, spectrogram_db
from audiolens.io import read_audio, slug
from audiolens.parallel import ExecutorSettings, ordered_map
from audiolens.shards import ShardWriter, write_rows

__all__ = ["featurize", "feature_meta", "export_pngs"]

_log = logging.getLogger("audiolens.prep.featurize")


@dataclass(frozen=True)
class _SpecTask:
    path: str
    starts: tuple[int, ...]
    length: int
    config: SpectrogramConfig
    mel_basis: np.ndarray | None
    row: int = 0                 # global row of the first segment
    out_dir: str | None = None   # allocated shards: the worker writes its rows there (None: returns them)
    shard_size: int = 0


def _spec_one(task: _SpecTask) -> tuple[np.ndarray | None, np.ndarray]:
    first, last = task.starts[0], task.starts[-1] + task.length
    y, sr = read_audio(task.path, start=first, stop=last)
    if sr != task.config.sample_rate:
        raise DataError(f"{task.path} is at {sr} Hz, expected {task.config.sample_rate} Hz")
    buf = np.zeros(last - first, dtype=np.float32)
    buf[: len(y)] = y[: last - first]
    offs = np.asarray(task.starts) - first
    segs = np.lib.stride_tricks.sliding_window_view(buf, task.length)[offs]  # (k, L)
    db, ref = spectrogram_db(segs, config=task.config, mel_basis=task.mel_basis)
    if task.out_dir is None:
        return db, ref
    write_rows(task.out_dir, task.row, db, shard_size=task.shard_size)
    return None, ref


def _spec_tasks(segments: pd.DataFrame, *, root: Path, config: SpectrogramConfig, length: int, per_task: int,
                out_dir: str | None = None, shard_size: int = 0) -> list[_SpecTask]:
    basis = config.mel_basis() if config.kind == "mel" else None
    tasks: list[_SpecTask] = []
    paths = (segments["audio_dir"].astype(str) + "/" + segments["recording_id"].astype(str) + ".wav").to_numpy()
    starts = segments["start"].to_numpy(dtype=np.int64)
    i, n = 0, len(segments)
    while i < n:
        j = i + 1
        while j < n and paths[j] == paths[i] and j - i < per_task:
            j += 1
        tasks.append(_SpecTask(str(root / paths[i]), tuple(starts[i:j].tolist()), length, config, basis,
                               row=i, out_dir=out_dir, shard_size=shard_size))
        i = j
    return tasks


def featurize(segments: pd.DataFrame, *, config: SpectrogramConfig, out_dir: str | Path,
              shard_size: int, executor: ExecutorSettings, root: str | Path = ".",
              per_task: int = 64) -> pd.DataFrame:
    """Compute dB spectrograms of every segment row into shards in ``out_dir``.

    Parameters
    ----------
    segments : DataFrame
        segments.csv rows (all of one ``end - start`` length), in the wanted global order.
    config : SpectrogramConfig
    out_dir : path
        Receives ``shard_NNN.npy``.
    shard_size : int
        Rows per shard.
    executor : ExecutorSettings
        Where the per-recording tasks run (workers read audio; with ``processes`` and ``local``
        they also write their rows into the shards, on a remote cluster the rows come back here).
    root : path
        Folder ``audio_dir`` is relative to (the project root).
    per_task : int
        Segments per worker task (consecutive segments of one recording).

    Returns
    -------
    DataFrame
        ``segments`` plus ``shard``, ``row`` and ``ref_amplitude`` (the index table).
    """
    lengths = (segments["end"] - segments["start"]).unique()
    if len(lengths) > 1:
        raise DataError(f"segments have different lengths {sorted(lengths)[:5]}: re-run the segment "
                        f"and augment stages with one segment length")
    length = int(lengths[0]) if len(lengths) else 0
    shape = (config.n_freqs, config.n_frames(length))
    writer = ShardWriter(out_dir, n_rows=len(segments), shape=shape, shard_size=shard_size)
    # On this machine (local pool, Dask LocalCluster) the shards are allocated first and each task
    # writes its rows in place, returning only its reference amplitudes: no spectrogram is pickled
    # back or copied by this process. On a remote cluster the tasks return their rows (a task holds
    # up to per_task x F x T float32, ~4 MB: one task per chunk bounds memory) and they are appended here.
    in_place = executor.scheduler in ("processes", "local")
    if in_place:
        writer.allocate()
    # absolute paths: workers may run elsewhere (same shared filesystem, other working folder)
    tasks = _spec_tasks(segments, root=Path(root).resolve(), config=config, length=length, per_task=per_task,
                        out_dir=str(Path(out_dir).resolve()) if in_place else None, shard_size=shard_size)
    refs = np.zeros(len(segments), dtype=np.float32)
    t0 = time.perf_counter()
    for db, ref in ordered_map(_spec_one, tasks, executor=executor, chunksize=None if in_place else 1,
                               desc="spectrogram"):
        refs[writer.n_written: writer.n_written + len(ref)] = ref
        if db is None:
            writer.advance(len(ref))
        else:
            writer.append(db)
    writer.close()
    dt = time.perf_counter() - t0
    _log.info("%d spectrograms %s in %d shard(s), %.2f s (%.0f segments/s)", len(segments), shape,
              -(-len(segments) // shard_size), dt, len(segments) / dt if dt else 0.0)
    index = segments.reset_index(drop=True).copy()
    index["shard"], index["row"] = writer.locations()
    index["ref_amplitude"] = refs
    return index


def feature_meta(config: SpectrogramConfig, *, segment_samples: int, class_names: list[str],
                 normalise: str, n_rows: int, shard_size: int) -> dict:
    """The ``meta.json`` mapping of a feature folder (see docs/contracts.md)."""
    return {**config.to_dict(), "shape": [config.n_freqs, config.n_frames(segment_samples)],
            "freqs_hz": [float(f) for f in config.freqs_hz()],
            "frame_s": config.hop_length / config.sample_rate,
            "segment_samples": int(segment_samples), "segment_s": segment_samples / config.sample_rate,
            "db_ref": "segment max", "dtype": "float32", "class_names": list(class_names),
            "normalise": normalise, "n_rows": int(n_rows), "shard_size": int(shard_size)}


def export_pngs(index: pd.DataFrame, *, feature_dir: str | Path, out_dir: str | Path,
                per_class: int, top_db: float) -> int:
    """Write up to ``per_class`` grayscale PNGs per class, no axes (the seed's format).

    Rows are taken in index order, original segments before augmented ones; pixel
    0 = ``-top_db`` dB, 255 = 0 dB, low frequencies at the bottom. Files are
    ``out_dir/<label>/<segment_id>.png``. Returns the number written.
    """
    from PIL import Image

    from audiolens.shards import FeatureStore

    if per_class <= 0 or len(index) == 0:
        return 0
    store = FeatureStore(feature_dir)
    order = index.assign(_pos=np.arange(len(index))).sort_values(["augmented", "_pos"], kind="stable")
    picked = order.groupby("label", sort=True).head(per_class)
    x = store.get(picked["_pos"].to_numpy())
    img = np.clip(np.rint((x + top_db) / top_db * 255.0), 0, 255).astype(np.uint8)[:, ::-1, :]
    for k, (label, sid) in enumerate(zip(picked["label"], picked["segment_id"])):
        path = Path(out_dir) / slug(label) / f"{sid}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(img[k])).save(path, format="PNG")
    return len(picked)
