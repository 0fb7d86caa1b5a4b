"""Noise contamination: mix audio with noise at a requested SNR.

Noise sources are generated white noise (``"white"``) and audio files (any format
soundfile reads; stereo is averaged to mono, resampled to the working rate, looped or
cropped to the signal's length). The SNR is measured over the whole signal::

    SNR = 10 log10( Σ s² / Σ (g n)² )   →   g = sqrt( Σ s² / (Σ n² · 10^(SNR/10)) )

(the seeds mixed ``0.6 s + 0.4 n`` of equal-power signals, ≈ 3.5 dB).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from audiolens.audio import resample
from audiolens.io import read_audio

__all__ = ["NoiseSource", "white_noise", "load_noise", "noise_sources", "fit_length", "mix_at_snr", "snr_db",
           "noise_robustness"]


@dataclass(frozen=True)
class NoiseSource:
    """A named mono noise signal at the working sample rate (float32, shape ``(n,)``)."""

    name: str
    audio: np.ndarray
    sample_rate: int


def white_noise(n_samples: int, *, seed: int = 0) -> np.ndarray:
    """Unit-variance Gaussian white noise, float32, shape ``(n_samples,)``."""
    return np.random.default_rng(seed).standard_normal(int(n_samples)).astype(np.float32)


def load_noise(path: str | Path, *, sample_rate: int) -> np.ndarray:
    """Read a noise file as mono float32 at ``sample_rate`` Hz (stereo averaged, resampled).

    Raises
    ------
    audiolens.io.AudioReadError
        Unreadable / empty file (the message names the file).
    ValueError
        A silent file (all zeros), naming the file.
    """
    y, sr = read_audio(path, mono=True)
    y = resample(y, sr_in=sr, sr_out=int(sample_rate))
    if not np.any(y):
        raise ValueError(f"noise file {path}: the signal is silent (all zeros)")
    return y.astype(np.float32)


def noise_sources(files: list[str | Path], *, sample_rate: int, white: bool = True,
                  white_seconds: float = 10.0, seed: int = 0) -> list[NoiseSource]:
    """The noise set: generated white noise (when ``white``) followed by each file (name = file stem)."""
    out = []
    if white:
        out.append(NoiseSource("white", white_noise(int(white_seconds * sample_rate), seed=seed), sample_rate))
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise FileNotFoundError(f"attribution.noise_files: {path} does not exist")
        out.append(NoiseSource(path.stem, load_noise(path, sample_rate=sample_rate), sample_rate))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ValueError(f"noise source names must be unique, got {names}")
    return out


def fit_length(noise: np.ndarray, n_samples: int, *, offset: int = 0) -> np.ndarray:
    """Loop (tile) or crop ``noise`` to ``n_samples``, starting ``offset`` samples in (wraps)."""
    noise = np.asarray(noise, dtype=np.float32)
    if noise.size == 0:
        raise ValueError("noise signal is empty")
    idx = (np.arange(int(n_samples)) + int(offset)) % noise.size
    return noise[idx]


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """``10 log10(Σ s² / Σ n²)`` in dB."""
    ps = float(np.sum(np.square(signal, dtype=np.float64)))
    pn = float(np.sum(np.square(noise, dtype=np.float64)))
    return 10.0 * np.log10(ps / pn)


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr: float, *, offset: int = 0) -> np.ndarray:
    """``signal + g · noise`` with ``g`` chosen so the mix has the requested SNR (dB).

    Parameters
    ----------
    signal : ndarray (n,)
        Mono audio.
    noise : ndarray (m,)
        Mono noise, looped or cropped to ``n`` (from ``offset``).
    snr : float
        Target signal-to-noise ratio in dB.

    Returns
    -------
    ndarray, float32 (n,); not clipped (float WAVs hold values beyond ±1).

    Raises
    ------
    ValueError
        Silent signal or silent noise (the SNR is undefined).
    """
    s = np.asarray(signal, dtype=np.float64)
    n = fit_length(noise, s.size, offset=offset).astype(np.float64)
    ps, pn = np.sum(s * s), np.sum(n * n)
    if ps <= 0:
        raise ValueError("cannot mix at an SNR: the signal is silent")
    if pn <= 0:
        raise ValueError("cannot mix at an SNR: the noise segment is silent")
    g = np.sqrt(ps / (pn * 10.0 ** (snr / 10.0)))
    return (s + g * n).astype(np.float32)


def noise_robustness(*, predict: Callable[[np.ndarray], np.ndarray], audio: np.ndarray, labels: np.ndarray,
                     sources: list[NoiseSource], snrs: list[float],
                     featurize: Callable[[np.ndarray], np.ndarray],
                     explainers: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]], mask: str,
                     floor_db: float | None = None, fill: str = "floor", ece_bins: int = 10, seed: int = 0
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy, calibration and fidelity on clean and noise-contaminated audio.

    Parameters
    ----------
    predict : callable ``(n, F, T) dB -> (n, K)`` probabilities
    audio : ndarray (n, L)
        Test segment audio (none silent), at the noise sources' sample rate.
    labels : ndarray of int (n,)
    sources : noise signals (:func:`noise_sources`)
    snrs : list of float
        SNRs in dB.
    featurize : callable ``(n, L) -> (n, F, T)`` dB spectrograms
    explainers : {name: f(x (n, F, T), c (n,)) -> maps (n, F, T)}
        Explained class = the prediction on the (noisy) input.
    mask : str
        Mask kind for the fidelity metrics.
    floor_db, fill
        What a removed bin becomes (:func:`audiolens.attribution.masks.fill_state`, seeded ``seed``).

    Returns
    -------
    performance : DataFrame, one row per condition: ``noise, snr_db, n, accuracy, nll, brier, ece``
        (the clean condition is ``noise="clean"``, ``snr_db=inf``).
    fidelity : DataFrame, one row per condition × explainer: the mean of each fidelity metric.
    """
    from audiolens.attribution.fidelity import spectral_fidelity, summarise
    from audiolens.attribution.masks import fill_state, make_masks
    from audiolens.uncertainty.metrics import accuracy, brier, ece_mce, nll

    audio = np.asarray(audio, dtype=np.float32)
    labels = np.asarray(labels, dtype=int)
    rng = np.random.default_rng(seed)
    conditions = [("clean", float("inf"), audio)]
    for src in sources:
        offsets = rng.integers(0, len(src.audio), size=len(audio))
        for snr in snrs:
            mixed = np.stack([mix_at_snr(a, src.audio, snr, offset=o) for a, o in zip(audio, offsets)])
            conditions.append((src.name, float(snr), mixed))
    perf, fid = [], []
    for name, snr, sig in conditions:
        x = featurize(sig)
        probs = predict(x)
        perf.append({"noise": name, "snr_db": snr, "n": len(x), "accuracy": accuracy(probs, labels),
                     "nll": nll(probs, labels), "brier": brier(probs, labels),
                     "ece": ece_mce(probs, labels, bins=ece_bins)[0]})
        c = probs.argmax(axis=1)
        fx = fill_state(x, fill, floor_db=floor_db, seed=seed)
        for ex_name, fn in explainers.items():
            a = fn(x, c)
            m = make_masks(a, mask, seed=seed)
            summary = summarise(spectral_fidelity(predict, x, m, c, floor_db=floor_db, probs=probs, maps=a,
                                                  fill=fx))
            fid.append({"noise": name, "snr_db": snr, "explainer": ex_name, "mask": mask, **summary})
    return pd.DataFrame(perf), pd.DataFrame(fid)
