"""Fundamental frequency (F0) with probabilistic YIN, summarised per speaker."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["pyin_frame_length", "pyin_f0", "pitch_summary"]


def pyin_frame_length(*, sr: int, fmin: float) -> int:
    """Smallest power-of-two frame (samples) holding four periods of ``fmin``.

    pYIN compares a half frame with lags up to one period of ``fmin``; four periods
    per frame leaves room for that at every lag (e.g. 1024 at 8 kHz / 60 Hz).
    """
    if sr <= 0 or fmin <= 0:
        raise ValueError(f"sr and fmin must be positive, got sr={sr}, fmin={fmin}")
    return int(2 ** math.ceil(math.log2(4.0 * sr / fmin)))


def pyin_f0(y: np.ndarray, *, sr: int, fmin: float, fmax: float,
            frame_length: int | None = None, hop_length: int | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F0 track of a mono signal with ``librosa.pyin``.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Mono signal.
    sr : int
        Sample rate (Hz).
    fmin, fmax : float
        Search range (Hz); ``fmax`` must be below the Nyquist frequency.
    frame_length, hop_length : int, optional
        Samples; default :func:`pyin_frame_length` and a quarter of it.

    Returns
    -------
    f0 : ndarray, shape (frames,)
        Hz, NaN in unvoiced frames.
    voiced : ndarray of bool, shape (frames,)
    voiced_prob : ndarray, shape (frames,)
    """
    import librosa

    if not 0 < fmin < fmax:
        raise ValueError(f"need 0 < fmin < fmax, got fmin={fmin}, fmax={fmax}")
    if fmax >= sr / 2:
        raise ValueError(f"fmax={fmax} Hz must be below the Nyquist frequency {sr / 2} Hz")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"y must be mono (n,), got shape {y.shape}")
    frame_length = frame_length or pyin_frame_length(sr=sr, fmin=fmin)
    hop_length = hop_length or frame_length // 4
    if y.size < frame_length:
        y = np.pad(y, (0, frame_length - y.size))
    f0, voiced, prob = librosa.pyin(y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame_length,
                                    hop_length=hop_length, center=False)
    return f0.astype(np.float64), voiced.astype(bool), prob.astype(np.float64)


def pitch_summary(frames: pd.DataFrame, *, by: str = "speaker") -> pd.DataFrame:
    """Per-group F0 summary from a frame table.

    Parameters
    ----------
    frames : DataFrame
        One row per pYIN frame: ``<by>``, ``f0_hz`` (NaN when unvoiced), ``voiced`` (bool).

    Returns
    -------
    DataFrame
        ``<by>``, ``frames``, ``voiced_fraction``, ``f0_median_hz``, ``f0_q25_hz``,
        ``f0_q75_hz``, ``f0_mean_hz`` (voiced frames only; NaN when none is voiced).
    """
    missing = [c for c in (by, "f0_hz", "voiced") if c not in frames.columns]
    if missing:
        raise ValueError(f"pitch frame table lacks columns {missing}")
    rows = []
    for key, grp in frames.groupby(by, sort=True):
        voiced = grp["voiced"].to_numpy(dtype=bool)
        f0 = grp["f0_hz"].to_numpy(dtype=np.float64)[voiced]
        f0 = f0[np.isfinite(f0)]
        has = f0.size > 0
        rows.append({
            by: key, "frames": int(len(grp)),
            "voiced_fraction": float(voiced.mean()) if len(grp) else 0.0,
            "f0_median_hz": float(np.median(f0)) if has else float("nan"),
            "f0_q25_hz": float(np.quantile(f0, 0.25)) if has else float("nan"),
            "f0_q75_hz": float(np.quantile(f0, 0.75)) if has else float("nan"),
            "f0_mean_hz": float(f0.mean()) if has else float("nan"),
        })
    return pd.DataFrame(rows, columns=[by, "frames", "voiced_fraction", "f0_median_hz",
                                       "f0_q25_hz", "f0_q75_hz", "f0_mean_hz"])
