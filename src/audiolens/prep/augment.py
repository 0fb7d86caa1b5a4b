"""Augment a corpus: time-stretched copies of chosen cleaned recordings (grouped with their source)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audiolens.audio import time_stretch
from audiolens.io import read_audio, write_audio
from audiolens.parallel import ExecutorSettings, ordered_map

__all__ = ["select_recordings", "aug_id", "augment_corpus"]

_log = logging.getLogger("audiolens.prep.augment")


def select_recordings(manifest: pd.DataFrame, *, select_by: str, values: list[str] | None,
                      positive_class: str | None) -> pd.DataFrame:
    """Rows of ``manifest`` chosen for augmentation.

    ``values`` given: rows whose ``select_by`` column (``speaker`` or ``label``) is in it.
    ``values`` omitted: the positive ("allowed") class, ``label == positive_class``, or
    every row when the corpus has no positive class.
    """
    if values is not None:
        chosen = manifest[select_by].astype(str).isin([str(v) for v in values])
    elif positive_class is not None:
        chosen = manifest["label"].astype(str) == positive_class
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
                   factors: list[float], sample_rate: int, executor: ExecutorSettings) -> pd.DataFrame:
    """Time-stretch each chosen cleaned recording by each factor into ``out_dir``.

    Parameters
    ----------
    recordings : DataFrame
        Manifest rows (``id`` and the label fields) of the recordings to stretch.
    executor : ExecutorSettings
        Where the per-recording tasks run (workers write into ``out_dir``).

    Returns
    -------
    DataFrame
        One row per stretched copy: ``recording_id``, ``source_id``, ``n_samples``, ``factor``
        and the source's ``label``, ``label_index``, ``speaker``, ``group``, ``fold`` (and
        ``audio_sha256`` when ``recordings`` has it); ``augmented`` is True.
    """
    clean_dir, out_dir = Path(clean_dir).resolve(), Path(out_dir).resolve()  # absolute: workers may run elsewhere
    tasks = [_AugTask(rid, str(clean_dir / f"{rid}.wav"), str(out_dir), tuple(factors), sample_rate)
             for rid in recordings["id"]]
    t0 = time.perf_counter()
    rows = [r for res in ordered_map(_augment_one, tasks, executor=executor, chunksize=1, desc="augment") for r in res]
    _log.info("%d recordings x %d factor(s) -> %d stretched copies, %.1f s of audio written in %.2f s",
              len(tasks), len(factors), len(rows), sum(r["n_samples"] for r in rows) / sample_rate,
              time.perf_counter() - t0)
    out = pd.DataFrame(rows, columns=["recording_id", "source_id", "n_samples", "factor"])
    cols = ["label", "label_index", "speaker", "group", "fold"]
    meta = recordings.set_index("id")[cols + [c for c in ("audio_sha256",) if c in recordings.columns]]
    out = out.join(meta, on="source_id")
    out["augmented"] = True
    return out
