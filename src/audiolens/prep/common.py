"""Shared by the preprocessing stages: recording lengths, segmenting input, skipped tables."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.io import SKIPPED_COLUMNS

__all__ = ["clean_settings", "spectrogram_config", "recording_lengths", "recordings_table",
           "unsegmented"]



def clean_settings(*, audio, clean):
    """:class:`audiolens.audio.CleanSettings` from the ``audio`` and ``clean`` params sections."""
    from audiolens.audio import CleanSettings

    fields = set(CleanSettings.__dataclass_fields__)
    return CleanSettings(sample_rate=audio.sample_rate,
                         **{k: v for k, v in clean.model_dump().items() if k in fields})


def spectrogram_config(*, audio, features):
    """:class:`audiolens.features.SpectrogramConfig` from the ``audio`` and ``features`` params sections.

    Raises ``ValueError`` naming the offending ``features`` key (e.g. ``fmax`` above Nyquist).
    """
    from audiolens.features import SpectrogramConfig

    f = features
    return SpectrogramConfig(kind=f.kind, sample_rate=audio.sample_rate, n_fft=f.n_fft, hop_length=f.hop_length,
                             n_mels=f.n_mels, fmin=f.fmin, fmax=f.fmax, top_db=f.top_db)


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
