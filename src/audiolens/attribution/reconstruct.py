"""Mask-and-reconstruct: masked dB spectrograms back to audio you can listen to.

The dB → amplitude undo, mel → linear mapping and inverse STFT with the source segment's
phase (Griffin-Lim only without source audio) live in :mod:`audiolens.features`
(:func:`~audiolens.features.db_to_audio`); this module applies masks, computes the audio
round-trip probabilities and writes the example WAVs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from audiolens.features import SpectrogramConfig, db_to_audio, spectrogram_db
from audiolens.attribution.masks import apply_mask
from audiolens.io import write_audio

__all__ = ["reconstruct", "masked_audio", "error_db", "roundtrip_probs", "write_example_wavs"]


def reconstruct(spec_db: np.ndarray, *, config: SpectrogramConfig, ref_amplitude: float, length: int,
                source_audio: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """One dB spectrogram ``(F, T)`` → audio ``(length,)`` float32 (original phase when given)."""
    return db_to_audio(np.asarray(spec_db, dtype=np.float32), config=config, ref_amplitude=float(ref_amplitude),
                       length=int(length), source_audio=source_audio, seed=seed)


def masked_audio(spec_db: np.ndarray, mask: np.ndarray, *, config: SpectrogramConfig, ref_amplitude: float,
                 source_audio: np.ndarray | None, length: int, floor_db: float | None = None,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """Audio of the kept region and of its complement.

    Parameters
    ----------
    spec_db, mask : ndarray (F, T)
        dB spectrogram and mask in ``[0, 1]``.
    source_audio : ndarray (length,) or None
        Segment audio whose phase is reused; None → Griffin-Lim.
    floor_db : float or None
        The dB value removed bins take (None: the spectrogram's minimum).

    Returns
    -------
    dict with ``masked_in`` and ``masked_out`` (each ``(length,)`` float32).
    """
    kw = dict(config=config, ref_amplitude=ref_amplitude, length=length, source_audio=source_audio, seed=seed)
    return {"masked_in": reconstruct(apply_mask(spec_db, mask, floor_db=floor_db), **kw),
            "masked_out": reconstruct(apply_mask(spec_db, mask, floor_db=floor_db, complement=True), **kw)}


def error_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Relative error energy ``10 log10(Σ(ref - est)² / Σ ref²)`` in dB (−inf when identical)."""
    ref = np.asarray(reference, dtype=np.float64)
    err = ref - np.asarray(estimate, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return float(10.0 * np.log10(np.sum(err * err) / np.sum(ref * ref)))


def roundtrip_probs(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, masks: np.ndarray, *,
                    config: SpectrogramConfig, ref_amplitude: np.ndarray, source_audio: list[np.ndarray | None],
                    floor_db: float | None = None, complement: bool = True,
                    fill: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Model probabilities after the audio round trip (masked spectrogram → audio → features).

    Parameters
    ----------
    predict : callable ``(n, F, T) -> (n, K)``
    x, masks : ndarray (n, F, T)
        dB spectrograms and masks (all ones: the unmasked round trip).
    ref_amplitude : ndarray (n,)
    source_audio : list of n arrays (segment audio, all the same length) or None entries
        (None → Griffin-Lim phase).
    complement : bool
        Also resynthesise and score the complement ``1 - M``.
    fill : ndarray (n, F, T), optional
        dB values removed bins take before resynthesis (:func:`~audiolens.attribution.masks.fill_state`:
        the same fill as the spectral metrics); None: the floor.

    Returns
    -------
    probs_in : ndarray (n, K)
        Of the masked-in audio.
    probs_out : ndarray (n, K) or None
        Of the masked-out audio (None unless ``complement``).
    """
    n, f, t = x.shape
    lengths = {len(a) for a in source_audio if a is not None}
    if len(lengths) > 1:
        raise ValueError(f"source segments must share one length, got {sorted(lengths)}")
    length = lengths.pop() if lengths else (t - 1) * config.hop_length
    kept = np.empty((n, length), np.float32)
    removed = np.empty((n, length), np.float32) if complement else None
    for i in range(n):
        kw = dict(config=config, ref_amplitude=float(ref_amplitude[i]), length=length,
                  source_audio=source_audio[i], seed=i)
        fi = None if fill is None else fill[i]
        kept[i] = reconstruct(apply_mask(x[i], masks[i], floor_db=floor_db, fill=fi), **kw)
        if complement:
            removed[i] = reconstruct(apply_mask(x[i], masks[i], floor_db=floor_db, complement=True, fill=fi), **kw)
    basis = config.mel_basis() if config.kind == "mel" else None

    def feats(audio: np.ndarray) -> np.ndarray:
        db = spectrogram_db(audio, config=config, mel_basis=basis)[0]
        if db.shape[1:] != (f, t):
            raise ValueError(f"round-trip spectrogram shape {db.shape[1:]} differs from {(f, t)}")
        return db
    return predict(feats(kept)), (predict(feats(removed)) if complement else None)


def write_example_wavs(out_dir: str | Path, stem: str, *, original: np.ndarray, masked_in: np.ndarray,
                       masked_out: np.ndarray, sample_rate: int) -> list[Path]:
    """Write ``<stem>_original.wav``, ``<stem>_masked_in.wav``, ``<stem>_masked_out.wav`` (float32 WAV).

    All three share one peak normalisation (the loudest of them to 0.9 full scale), so
    their loudness can be compared by ear.
    """
    out_dir = Path(out_dir)
    peak = max(float(np.abs(a).max(initial=0.0)) for a in (original, masked_in, masked_out))
    gain = 0.9 / peak if peak > 0 else 1.0
    return [write_audio(out_dir / f"{stem}_{name}.wav", np.asarray(a, np.float32) * gain, sample_rate)
            for name, a in (("original", original), ("masked_in", masked_in), ("masked_out", masked_out))]
