"""Clean a corpus: every manifest recording -> ``<out_dir>/<id>.wav`` (mono float32, resampled,
denoised, silence removed; see :func:`audiolens.audio.clean_signal`)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audiolens.audio import CleanSettings, clean_signal
from audiolens.io import SKIPPED_COLUMNS, AudioReadError, PathEscapeError, read_audio, resolve_inside, write_audio
from audiolens.parallel import ExecutorSettings, ordered_map

__all__ = ["CLEAN_LOG_COLUMNS", "clean_corpus"]

CLEAN_LOG_COLUMNS = ["id", "path", "sample_rate_in", "channels", "duration_in_s", "duration_out_s",
                     "removed_fraction", "denoised", "denoise_note"]
_log = logging.getLogger("audiolens.prep.clean")


@dataclass(frozen=True)
class _CleanTask:
    id: str
    path: str
    root: str
    out: str
    settings: CleanSettings
    min_keep_s: float


def _skip(task: _CleanTask, reason: str, detail: str) -> dict:
    return {"skip": {"id": task.id, "path": task.path, "reason": reason, "detail": detail[:300]}}


def _clean_one(task: _CleanTask) -> dict:
    try:
        src = resolve_inside(task.root, task.path)
        y, sr = read_audio(src, mono=False)
    except AudioReadError as exc:
        return _skip(task, exc.reason, exc.detail or str(exc))
    except PathEscapeError as exc:
        return _skip(task, "outside the data root", str(exc))
    except FileNotFoundError as exc:
        return _skip(task, "missing file", str(exc))
    except OSError as exc:
        return _skip(task, "unreadable", f"{type(exc).__name__}: {exc}")
    try:
        x, info = clean_signal(y, sr=sr, settings=task.settings)
    except Exception as exc:  # noqa: BLE001 - one bad recording must not stop the corpus
        return _skip(task, "clean failed", f"{type(exc).__name__}: {exc}")
    if info["duration_out_s"] < max(task.min_keep_s, 1.0 / task.settings.sample_rate):
        return _skip(task, "empty after cleaning", f"{info['duration_out_s']:.3f} s kept of "
                     f"{info['duration_in_s']:.3f} s (clean.min_keep_s = {task.min_keep_s:g})")
    write_audio(task.out, x, task.settings.sample_rate)
    return {"log": {"id": task.id, "path": task.path, "sample_rate_in": sr,
                    "channels": 1 if y.ndim == 1 else y.shape[1], **info}}


def clean_corpus(manifest: pd.DataFrame, *, root: str | Path, out_dir: str | Path,
                 settings: CleanSettings, min_keep_s: float, executor: ExecutorSettings
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
    executor : ExecutorSettings
        Where the per-recording tasks run (workers read ``root`` and write into ``out_dir``).

    Returns
    -------
    log : DataFrame
        :data:`CLEAN_LOG_COLUMNS`, one row per written recording (manifest order).
    skipped : DataFrame
        :data:`SKIPPED_COLUMNS`.
    """
    root, out_dir = Path(root).resolve(), Path(out_dir).resolve()  # absolute: workers may run elsewhere
    tasks = [_CleanTask(r["id"], r["path"], str(root), str(out_dir / f"{r['id']}.wav"), settings, min_keep_s)
             for r in manifest[["id", "path"]].to_dict("records")]
    logs, skipped = [], []
    t0 = time.perf_counter()
    for res in ordered_map(_clean_one, tasks, executor=executor, desc="clean"):
        (skipped if "skip" in res else logs).append(res.get("skip") or res["log"])
    log = pd.DataFrame(logs, columns=CLEAN_LOG_COLUMNS)
    dt = time.perf_counter() - t0
    audio_s = float(log["duration_in_s"].sum()) if len(log) else 0.0
    _log.info("cleaned %d recordings (%d skipped), %.1f s -> %.1f s of audio in %.2f s (%.0fx real time)",
              len(log), len(skipped), audio_s, float(log["duration_out_s"].sum()) if len(log) else 0.0,
              dt, audio_s / dt if dt else 0.0)
    return log, pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)
