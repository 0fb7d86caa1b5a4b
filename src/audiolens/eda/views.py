"""Audio-level views of a bounded sample: mean spectra per group and pYIN pitch per group.

Recordings are read one at a time (never the corpus at once); a recording that cannot be
read is recorded in ``skipped`` (``id, path, reason, detail``) and left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.audio import resample, to_mono
from audiolens.eda.pitch import pyin_f0, pyin_frame_length
from audiolens.eda.stats import mean_power_spectrum
from audiolens.io import SKIPPED_COLUMNS, AudioReadError, PathEscapeError, read_audio, resolve_inside

__all__ = ["AudioSource", "spectra_by_group", "pitch_frames_by_group"]



@dataclass
class AudioSource:
    """Where a recording's audio lives, before and after cleaning.

    Parameters
    ----------
    data_root : path
        the data root; the manifest's ``path`` is relative to it (unprocessed audio).
    clean_dir : path
        Folder of cleaned ``<id>.wav`` files at ``sample_rate``.
    sample_rate : int
        Working sample rate (Hz); unprocessed audio is downmixed and resampled to it.
    """

    data_root: str | Path
    clean_dir: str | Path
    sample_rate: int
    skipped: list[dict] = field(default_factory=list)

    def _skip(self, rec_id: str, path: str | Path, reason: str, detail: str = "") -> None:
        self.skipped.append({"id": rec_id, "path": str(path), "reason": reason, "detail": detail})

    def read(self, row: pd.Series, *, variant: str, seconds: float | None = None) -> np.ndarray | None:
        """Mono float32 audio at ``sample_rate`` of a manifest row, or None (skipped).

        ``variant`` is ``"cleaned"`` (``clean_dir/<id>.wav``) or ``"unprocessed"`` (raw file,
        downmixed and resampled); ``seconds`` reads only the first seconds.
        """
        rec_id = str(row["id"])
        try:
            if variant == "cleaned":
                path = Path(self.clean_dir) / f"{rec_id}.wav"
                if not path.is_file():
                    self._skip(rec_id, path, "missing cleaned audio", "not written by the clean stage")
                    return None
                stop = None if seconds is None else max(1, int(round(seconds * self.sample_rate)))
                y, sr = read_audio(path, mono=True, stop=stop)
            elif variant == "unprocessed":
                path = resolve_inside(self.data_root, str(row["path"]))
                sr_native = int(row["sample_rate"]) if "sample_rate" in row else None
                stop = None if seconds is None or not sr_native else max(1, int(round(seconds * sr_native)))
                y, sr = read_audio(path, mono=False, stop=stop)
                y = to_mono(y)
            else:
                raise ValueError(f"variant must be 'cleaned' or 'unprocessed', got {variant!r}")
        except (AudioReadError, PathEscapeError, OSError) as exc:
            self._skip(rec_id, row.get("path", ""), type(exc).__name__,
                       str(getattr(exc, "reason", exc))[:200])
            return None
        y = resample(y, sr_in=sr, sr_out=self.sample_rate)
        if seconds is not None:
            y = y[: int(round(seconds * self.sample_rate))]
        if y.size == 0:
            self._skip(rec_id, path, f"empty {variant} audio")
            return None
        return y

    def skipped_table(self) -> pd.DataFrame:
        """The skipped recordings so far (``id, path, reason, detail``), duplicates removed."""
        return pd.DataFrame(self.skipped, columns=SKIPPED_COLUMNS).drop_duplicates().reset_index(drop=True)


def spectra_by_group(sample: pd.DataFrame, *, source: AudioSource, by: str, n_fft: int,
                     variants: tuple[str, ...] = ("unprocessed", "cleaned"),
                     progress: bool = False) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """Mean power spectrum per group, averaged over the sampled recordings' frames.

    Parameters
    ----------
    sample : DataFrame
        Manifest rows to analyse (already bounded), with ``<by>``, ``id``, ``path``.
    n_fft : int
        STFT size (hop ``n_fft // 2``).

    Returns
    -------
    spectra : dict
        Variant → DataFrame (index = group, one column per bin; mean linear power,
        each recording weighted by its number of frames).
    freqs_hz : ndarray, shape (n_fft // 2 + 1,)
    """
    from tqdm import tqdm

    freqs = np.fft.rfftfreq(n_fft, d=1.0 / source.sample_rate)
    hop = n_fft // 2
    out: dict[str, pd.DataFrame] = {}
    for variant in variants:
        sums: dict[str, np.ndarray] = {}
        frames: dict[str, int] = {}
        for _, row in tqdm(sample.iterrows(), total=len(sample), disable=not progress,
                           desc=f"spectra ({variant})"):
            y = source.read(row, variant=variant)
            if y is None:
                continue
            n = 1 + len(y) // hop  # frames of the centred STFT
            g = str(row[by])
            sums[g] = sums.get(g, 0.0) + mean_power_spectrum(y, sr=source.sample_rate, n_fft=n_fft,
                                                             hop_length=hop) * n
            frames[g] = frames.get(g, 0) + n
        table = pd.DataFrame({g: sums[g] / frames[g] for g in sorted(sums)}).T
        table.columns = [f"{f:.2f}" for f in freqs]
        out[variant] = table
    return out, freqs


def pitch_frames_by_group(sample: pd.DataFrame, *, source: AudioSource, by: str, fmin: float,
                          fmax: float, progress: bool = False) -> pd.DataFrame:
    """pYIN frames of the sampled cleaned recordings.

    Parameters
    ----------
    sample : DataFrame
        Rows with ``<by>``, ``id`` and ``take_s`` (seconds to analyse from each,
        see :func:`audiolens.eda.sampling.sample_seconds_per_group`).

    Returns
    -------
    DataFrame
        One row per frame: ``<by>``, ``id``, ``time_s`` (frame centre), ``f0_hz`` (NaN unvoiced),
        ``voiced``, ``voiced_prob``.
    """
    from tqdm import tqdm

    parts = []
    sr = source.sample_rate
    frame = pyin_frame_length(sr=sr, fmin=fmin)
    for _, row in tqdm(sample.iterrows(), total=len(sample), disable=not progress, desc="pYIN"):
        y = source.read(row, variant="cleaned", seconds=float(row["take_s"]))
        if y is None:
            continue
        f0, voiced, prob = pyin_f0(y, sr=sr, fmin=fmin, fmax=fmax, frame_length=frame,
                                   hop_length=frame // 4)
        parts.append(pd.DataFrame({by: str(row[by]), "id": str(row["id"]),
                                   "time_s": (np.arange(len(f0)) * (frame // 4) + frame / 2) / sr,
                                   "f0_hz": f0, "voiced": voiced, "voiced_prob": prob}))
    if not parts:
        return pd.DataFrame(columns=[by, "id", "time_s", "f0_hz", "voiced", "voiced_prob"])
    return pd.concat(parts, ignore_index=True)
