"""Per-image statistics of dB spectrograms and average spectra of audio.

Every function here is pure (arrays in, arrays out) and vectorised over a batch
of images, so the EDA stage can describe thousands of spectrograms in seconds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["STAT_COLUMNS", "image_stats", "histogram_entropy", "dominant_frequency",
           "mean_power_spectrum", "summarise_by"]

STAT_COLUMNS = ("mean", "variance", "entropy", "skewness", "kurtosis", "dominant_hz")


def _as_batch(images: np.ndarray) -> np.ndarray:
    arr = np.asarray(images, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"images must have shape (F, T) or (n, F, T), got {arr.shape}")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"images must not be empty, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("images contain NaN or inf values")
    return arr


def histogram_entropy(images: np.ndarray, *, bins: int = 64,
                      value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Shannon entropy (bits) of each image's intensity histogram.

    Parameters
    ----------
    images : ndarray, shape (n, F, T) or (F, T)
        Intensities (e.g. dB).
    bins : int
        Number of equal-width histogram bins.
    value_range : (low, high), optional
        Common histogram range for all images (e.g. ``(-top_db, 0)`` for dB
        spectrograms, which makes entropies comparable across images); values
        outside are clipped into the edge bins. Default: each image's own min..max.

    Returns
    -------
    ndarray, shape (n,)
        Entropy in bits, in ``[0, log2(bins)]``; 0 for a constant image.
    """
    arr = _as_batch(images)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    n = arr.shape[0]
    flat = arr.reshape(n, -1)
    if value_range is not None:
        lo = np.full(n, float(value_range[0]))
        hi = np.full(n, float(value_range[1]))
        if not hi[0] > lo[0]:
            raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    else:
        lo, hi = flat.min(axis=1), flat.max(axis=1)
    width = np.where(hi > lo, hi - lo, 1.0)
    idx = np.floor((flat - lo[:, None]) / width[:, None] * bins).astype(np.int64)
    idx = np.clip(idx, 0, bins - 1)
    idx += np.arange(n)[:, None] * bins
    counts = np.bincount(idx.ravel(), minlength=n * bins).reshape(n, bins).astype(np.float64)
    p = counts / flat.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(p), 0.0)
    return np.maximum(terms.sum(axis=1), 0.0)


def dominant_frequency(images_db: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Frequency (Hz) of the bin with the most mean energy over time.

    Parameters
    ----------
    images_db : ndarray, shape (n, F, T) or (F, T)
        Power spectrograms in dB (``10 log10`` of power, or ``20 log10`` of magnitude).
    freqs_hz : ndarray, shape (F,)
        Centre frequency of each row (Hz), e.g. ``meta.json:freqs_hz``.

    Returns
    -------
    ndarray, shape (n,)
        Hz of ``argmax_f mean_t 10**(dB/10)``.
    """
    arr = _as_batch(images_db)
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    if freqs.shape != (arr.shape[1],):
        raise ValueError(f"freqs_hz must have one entry per frequency row ({arr.shape[1]}), "
                         f"got shape {freqs.shape}")
    # subtract each image's max before exponentiating: same argmax, no overflow
    power = np.power(10.0, (arr - arr.max(axis=(1, 2), keepdims=True)) / 10.0)
    return freqs[np.argmax(power.mean(axis=2), axis=1)]


def image_stats(images_db: np.ndarray, freqs_hz: np.ndarray, *, bins: int = 64,
                value_range: tuple[float, float] | None = None) -> pd.DataFrame:
    """Statistics of each spectrogram image.

    Parameters
    ----------
    images_db : ndarray, shape (n, F, T) or (F, T)
        dB spectrograms.
    freqs_hz : ndarray, shape (F,)
        Row centre frequencies (Hz).
    bins, value_range :
        Histogram settings for the entropy (see :func:`histogram_entropy`).

    Returns
    -------
    DataFrame, n rows
        ``mean`` (dB), ``variance`` (dB², population), ``entropy`` (bits),
        ``skewness`` (biased, as ``scipy.stats.skew``), ``kurtosis`` (Fisher excess,
        biased, as ``scipy.stats.kurtosis``), ``dominant_hz``. Skewness and kurtosis
        are 0 for a constant image (where they are undefined).
    """
    arr = _as_batch(images_db)
    flat = arr.reshape(arr.shape[0], -1)
    mean = flat.mean(axis=1)
    dev = flat - mean[:, None]
    m2 = (dev ** 2).mean(axis=1)
    m3 = (dev ** 3).mean(axis=1)
    m4 = (dev ** 4).mean(axis=1)
    # a numerically constant image: variance at round-off level relative to the values
    flat_img = m2 <= (1e3 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)) ** 2
    safe = np.where(flat_img, 1.0, m2)
    skew = np.where(flat_img, 0.0, m3 / safe ** 1.5)
    kurt = np.where(flat_img, 0.0, m4 / safe ** 2 - 3.0)
    return pd.DataFrame({
        "mean": mean,
        "variance": m2,
        "entropy": histogram_entropy(arr, bins=bins, value_range=value_range),
        "skewness": skew,
        "kurtosis": kurt,
        "dominant_hz": dominant_frequency(arr, freqs_hz),
    })


def mean_power_spectrum(y: np.ndarray, *, sr: int, n_fft: int, hop_length: int) -> np.ndarray:
    """Mean power per STFT bin of a signal (average over frames, linear power).

    Uses :func:`audiolens.features.stft` (Hann window, centred frames), the STFT of the
    spectrogram stage.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Mono signal.
    sr : int
        Sample rate (Hz).
    n_fft, hop_length : int
        STFT settings (samples).

    Returns
    -------
    ndarray, shape (n_fft // 2 + 1,)
        Mean ``|STFT|²`` per bin, rows at ``np.fft.rfftfreq(n_fft, 1 / sr)`` Hz.
    """
    from audiolens.features import SpectrogramConfig, stft

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"y must be mono (n,), got shape {y.shape}")
    if y.size == 0:
        raise ValueError("y is empty")
    config = SpectrogramConfig(kind="linear", sample_rate=int(sr), n_fft=int(n_fft), hop_length=int(hop_length),
                               n_mels=1, fmin=0.0, fmax=None, top_db=200.0)  # only the STFT is used
    spec = np.abs(stft(y, config=config)).astype(np.float64) ** 2
    return spec.mean(axis=1)


def summarise_by(stats: pd.DataFrame, *, by: str,
                 columns: tuple[str, ...] = STAT_COLUMNS) -> pd.DataFrame:
    """Per-group count, mean, std and median of each statistic column.

    Returns
    -------
    DataFrame
        One row per group value: ``<by>``, ``n``, then ``<col>_mean``, ``<col>_std``,
        ``<col>_median`` for each column (std with ddof=0, so a group of one has 0).
    """
    missing = [c for c in (by, *columns) if c not in stats.columns]
    if missing:
        raise ValueError(f"stats table lacks columns {missing}")
    rows = []
    for key, grp in stats.groupby(by, sort=True):
        row: dict[str, object] = {by: key, "n": int(len(grp))}
        for col in columns:
            vals = grp[col].to_numpy(dtype=np.float64)
            row[f"{col}_mean"] = float(vals.mean())
            row[f"{col}_std"] = float(vals.std())
            row[f"{col}_median"] = float(np.median(vals))
        rows.append(row)
    return pd.DataFrame(rows)
