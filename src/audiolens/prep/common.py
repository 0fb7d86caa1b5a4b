"""Shared by the preprocessing stages: recording lengths, segmenting input, skipped tables."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.errors import DataError
from audiolens.io import SKIPPED_COLUMNS

__all__ = ["recording_lengths", "recordings_table", "unsegmented"]


def recording_lengths(ids: list[str], *, audio_dir: str | Path, sample_rate: int) -> np.ndarray:
    """Frames of ``audio_dir/<id>.wav`` for each id, checking the sample rate (header only)."""
    import soundfile as sf

    out = np.zeros(len(ids), dtype=np.int64)
    for i, rid in enumerate(ids):
        info = sf.info(str(Path(audio_dir) / f"{rid}.wav"))
        if info.samplerate != sample_rate:
            raise DataError(f"{audio_dir}/{rid}.wav is at {info.samplerate} Hz, expected "
                            f"{sample_rate} Hz (re-run the clean stage)")
        out[i] = info.frames
    return out


def recordings_table(manifest: pd.DataFrame, *, ids: list[str], audio_dir: str | Path,
                     sample_rate: int) -> pd.DataFrame:
    """Manifest rows of ``ids`` (in manifest order) as segmenting input: ``recording_id``,
    ``source_id``, ``n_samples`` (read from ``audio_dir/<id>.wav`` headers) + label fields."""
    rec = manifest[manifest["id"].isin(set(ids))].copy()
    rec["recording_id"] = rec["source_id"] = rec["id"]
    rec["n_samples"] = recording_lengths(rec["id"].tolist(), audio_dir=audio_dir, sample_rate=sample_rate)
    return rec


def unsegmented(tails: pd.DataFrame, *, paths: dict[str, str] | None = None) -> pd.DataFrame:
    """Recordings that gave no segment, as a skipped table (``id, path, reason, detail``)."""
    none = tails[tails["n_segments"] == 0]
    reasons = none["tail_action"].map({"empty": "empty recording"}).fillna("shorter than the kept tail")
    detail = [f"{d:.3f} s, tail policy left no segment" for d in none["duration_s"]]
    return pd.DataFrame({"id": none["recording_id"].to_numpy(),
                         "path": [(paths or {}).get(r, "") for r in none["recording_id"]],
                         "reason": reasons.to_numpy(), "detail": detail}, columns=SKIPPED_COLUMNS)
