"""Corpus-level preprocessing: clean, augment and featurise many recordings in a pool.

Each function streams recordings through :func:`audiolens.parallel.ordered_map` (results
in input order, so outputs are byte-identical whatever ``n_jobs``), writes its outputs
into a folder the caller provides (usually from :func:`audiolens.io.atomic_dir`), and
returns tables; per-recording problems become rows of a ``skipped`` table
(``id, path, reason, detail``) instead of exceptions.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.audio import CleanSettings, clean_signal, time_stretch
from audiolens.features import SpectrogramConfig, spectrogram_db
from audiolens.io import AudioReadError, PathEscapeError, read_audio, resolve_inside, write_audio
from audiolens.parallel import ordered_map
from audiolens.shards import ShardWriter

__all__ = ["SKIPPED_COLUMNS", "CLEAN_LOG_COLUMNS", "clean_corpus", "recording_lengths",
           "select_recordings", "augment_corpus", "featurize", "export_pngs"]

SKIPPED_COLUMNS = ["id", "path", "reason", "detail"]
CLEAN_LOG_COLUMNS = ["id", "path", "sample_rate_in", "channels", "duration_in_s", "duration_out_s",
                     "removed_fraction", "denoised", "denoise_note"]
_log = logging.getLogger("audiolens.preprocess")


# --------------------------------------------------------------------------- clean
@dataclass(frozen=True)
class _CleanTask:
    id: str
    path: str
    root: str
    out: str
    settings: CleanSettings
    min_keep_s: float


def _clean_one(task: _CleanTask) -> dict:
    try:
        src = resolve_inside(task.root, task.path)
        y, sr = read_audio(src, mono=False)
    except (AudioReadError, PathEscapeError, OSError) as exc:
        reason = getattr(exc, "reason", type(exc).__name__)
        return {"skip": {"id": task.id, "path": task.path, "reason": reason, "detail": str(exc)}}
    x, info = clean_signal(y, sr=sr, settings=task.settings)
    if info["duration_out_s"] < max(task.min_keep_s, 1.0 / task.settings.sample_rate):
        return {"skip": {"id": task.id, "path": task.path, "reason": "empty after cleaning",
                         "detail": f"{info['duration_out_s']:.3f} s kept of {info['duration_in_s']:.3f} s "
                                   f"(clean.min_keep_s = {task.min_keep_s:g})"}}
    write_audio(task.out, x, task.settings.sample_rate)
    return {"log": {"id": task.id, "path": task.path, "sample_rate_in": sr,
                    "channels": 1 if y.ndim == 1 else y.shape[1], **info}}


def clean_corpus(manifest: pd.DataFrame, *, root: str | Path, out_dir: str | Path,
                 settings: CleanSettings, min_keep_s: float, n_jobs: int = 1
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean every manifest recording into ``out_dir/<id>.wav`` (float32, mono).

    Parameters
    ----------
    manifest : DataFrame
        With ``id`` and ``path`` (relative to ``root``).
    root : path
        The data root (paths escaping it are skipped).
    settings : CleanSettings
    min_keep_s : float
        Recordings shorter than this after cleaning are skipped ("empty after cleaning").

    Returns
    -------
    log : DataFrame
        :data:`CLEAN_LOG_COLUMNS`, one row per written recording (manifest order).
    skipped : DataFrame
        :data:`SKIPPED_COLUMNS`.
    """
    out_dir = Path(out_dir)
    tasks = [_CleanTask(r["id"], r["path"], str(root), str(out_dir / f"{r['id']}.wav"), settings, min_keep_s)
             for r in manifest[["id", "path"]].to_dict("records")]
    logs, skipped = [], []
    t0 = time.perf_counter()
    for res in ordered_map(_clean_one, tasks, n_jobs=n_jobs, desc="clean"):
        (skipped if "skip" in res else logs).append(res.get("skip") or res["log"])
    log = pd.DataFrame(logs, columns=CLEAN_LOG_COLUMNS)
    dt = time.perf_counter() - t0
    audio_s = float(log["duration_in_s"].sum()) if len(log) else 0.0
    _log.info("cleaned %d recordings (%d skipped), %.1f s -> %.1f s of audio in %.2f s (%.0fx real time)",
              len(log), len(skipped), audio_s, float(log["duration_out_s"].sum()) if len(log) else 0.0,
              dt, audio_s / dt if dt else 0.0)
    return log, pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)


def recording_lengths(ids: list[str], *, audio_dir: str | Path, sample_rate: int) -> np.ndarray:
    """Frames of ``audio_dir/<id>.wav`` for each id, checking the sample rate (header only)."""
    import soundfile as sf

    out = np.zeros(len(ids), dtype=np.int64)
    for i, rid in enumerate(ids):
        info = sf.info(str(Path(audio_dir) / f"{rid}.wav"))
        if info.samplerate != sample_rate:
            raise ValueError(f"{audio_dir}/{rid}.wav is at {info.samplerate} Hz, expected "
                             f"audio.sample_rate = {sample_rate} Hz (re-run the clean stage)")
        out[i] = info.frames
    return out


# --------------------------------------------------------------------------- augment
def select_recordings(manifest: pd.DataFrame, *, select_by: str, values: list[str] | None,
                      positive: list[str] | None, positive_class: str | None) -> pd.DataFrame:
    """Rows of ``manifest`` chosen for augmentation.

    ``values`` given: rows whose ``select_by`` column is in it. ``values`` omitted: the
    positive ("allowed") recordings — ``speaker`` in ``positive`` when selecting by
    speaker, ``label == positive_class`` when by label — or every row without a positive set.
    """
    col = manifest[select_by].astype(str)
    if values is not None:
        chosen = col.isin([str(v) for v in values])
    elif select_by == "speaker" and positive:
        chosen = col.isin([str(v) for v in positive])
    elif select_by == "label" and positive_class is not None:
        chosen = col == positive_class
    else:
        chosen = pd.Series(True, index=manifest.index)
    return manifest[chosen.to_numpy()]


def aug_id(source_id: str, factor: float) -> str:
    """Id of a stretched copy: ``<source_id>__x<factor>`` (e.g. ``f1_script1__x0.35``)."""
    return f"{source_id}__x{factor:g}"


@dataclass(frozen=True)
class _AugTask:
    id: str
    src: str
    out_dir: str
    factors: tuple[float, ...]
    sample_rate: int


def _augment_one(task: _AugTask) -> list[dict]:
    y, sr = read_audio(task.src)
    if sr != task.sample_rate:
        raise ValueError(f"{task.src} is at {sr} Hz, expected {task.sample_rate} Hz")
    rows = []
    for f in task.factors:
        z = time_stretch(y, sr=sr, factor=f)
        rid = aug_id(task.id, f)
        write_audio(Path(task.out_dir) / f"{rid}.wav", z, sr)
        rows.append({"recording_id": rid, "source_id": task.id, "n_samples": len(z), "factor": float(f)})
    return rows


def augment_corpus(recordings: pd.DataFrame, *, clean_dir: str | Path, out_dir: str | Path,
                   factors: list[float], sample_rate: int, n_jobs: int = 1) -> pd.DataFrame:
    """Time-stretch each chosen cleaned recording by each factor into ``out_dir``.

    Parameters
    ----------
    recordings : DataFrame
        Manifest rows (``id`` and the label fields) of the recordings to stretch.

    Returns
    -------
    DataFrame
        One row per stretched copy: ``recording_id``, ``source_id``, ``n_samples``, ``factor``
        and the source's ``label``, ``label_index``, ``speaker``, ``group``, ``fold``;
        ``augmented`` is True.
    """
    tasks = [_AugTask(rid, str(Path(clean_dir) / f"{rid}.wav"), str(out_dir), tuple(factors), sample_rate)
             for rid in recordings["id"]]
    rows = [r for res in ordered_map(_augment_one, tasks, n_jobs=n_jobs, desc="augment") for r in res]
    out = pd.DataFrame(rows, columns=["recording_id", "source_id", "n_samples", "factor"])
    meta = recordings.set_index("id")[["label", "label_index", "speaker", "group", "fold"]]
    out = out.join(meta, on="source_id")
    out["augmented"] = True
    return out


# --------------------------------------------------------------------------- spectrogram
@dataclass(frozen=True)
class _SpecTask:
    path: str
    starts: tuple[int, ...]
    length: int
    config: SpectrogramConfig
    mel_basis: np.ndarray | None


def _spec_one(task: _SpecTask) -> tuple[np.ndarray, np.ndarray]:
    first, last = task.starts[0], task.starts[-1] + task.length
    y, sr = read_audio(task.path, start=first, stop=last)
    if sr != task.config.sample_rate:
        raise ValueError(f"{task.path} is at {sr} Hz, expected audio.sample_rate = {task.config.sample_rate}")
    buf = np.zeros(last - first, dtype=np.float32)
    buf[: len(y)] = y[: last - first]
    offs = np.asarray(task.starts) - first
    segs = np.lib.stride_tricks.sliding_window_view(buf, task.length)[offs]  # (k, L)
    return spectrogram_db(segs, config=task.config, mel_basis=task.mel_basis)


def _spec_tasks(segments: pd.DataFrame, *, root: Path, config: SpectrogramConfig,
                length: int, per_task: int) -> list[_SpecTask]:
    basis = config.mel_basis() if config.kind == "mel" else None
    tasks: list[_SpecTask] = []
    paths = (segments["audio_dir"].astype(str) + "/" + segments["recording_id"].astype(str) + ".wav").to_numpy()
    starts = segments["start"].to_numpy(dtype=np.int64)
    i, n = 0, len(segments)
    while i < n:
        j = i + 1
        while j < n and paths[j] == paths[i] and j - i < per_task:
            j += 1
        tasks.append(_SpecTask(str(root / paths[i]), tuple(starts[i:j].tolist()), length, config, basis))
        i = j
    return tasks


def featurize(segments: pd.DataFrame, *, config: SpectrogramConfig, out_dir: str | Path,
              shard_size: int, root: str | Path = ".", n_jobs: int = 1,
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
        raise ValueError(f"segments have different lengths {sorted(lengths)[:5]}: re-run the segment "
                         f"and augment stages with one segment.length_s")
    length = int(lengths[0]) if len(lengths) else 0
    shape = (config.n_freqs, config.n_frames(length))
    writer = ShardWriter(out_dir, n_rows=len(segments), shape=shape, shard_size=shard_size)
    tasks = _spec_tasks(segments, root=Path(root), config=config, length=length, per_task=per_task)
    refs = np.zeros(len(segments), dtype=np.float32)
    t0 = time.perf_counter()
    for db, ref in ordered_map(_spec_one, tasks, n_jobs=n_jobs, desc="spectrogram"):
        refs[writer.n_written: writer.n_written + len(ref)] = ref
        writer.append(db)
    writer.close()
    dt = time.perf_counter() - t0
    _log.info("%d spectrograms %s in %d shard(s), %.2f s (%.0f segments/s)", len(segments), shape,
              -(-len(segments) // shard_size), dt, len(segments) / dt if dt else 0.0)
    index = segments.reset_index(drop=True).copy()
    index["shard"], index["row"] = writer.locations()
    index["ref_amplitude"] = refs
    return index


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "class"


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
        path = Path(out_dir) / _slug(label) / f"{sid}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(img[k])).save(path, format="PNG")
    return len(picked)
