"""Compile librosa's numba kernels once, in one process, right after installation.

librosa compiles its numba kernels with ``cache=True`` into ``librosa/__pycache__``. Two
processes compiling the same kernel at the same time into an empty cache (``pytest -n 2``,
``dvc queue start -j 2`` or a process pool on a fresh environment) can die with a
segmentation fault, and can leave a function's cache files from different compilations that
crash later calls too (numba issues #4807, #10128; seen here: ``pYIN`` in ``eda``).
``make setup`` runs this module once, serially, so that later processes only read the cache.

Run as ``python -m audiolens.warmup``; it calls every librosa function the package uses on
0.5 s of a 220 Hz tone, in float32 and float64 (numba compiles per dtype).
"""
from __future__ import annotations

import logging
import time

import numpy as np

log = logging.getLogger(__name__)


def warm_numba_cache(sr: int = 16000) -> float:
    """Call the numba-backed librosa functions once per dtype; return the seconds it took.

    Parameters
    ----------
    sr : int
        Sample rate of the test tone, Hz.
    """
    import librosa

    t0 = time.perf_counter()
    t = np.arange(sr // 2) / sr
    for dtype in (np.float32, np.float64):
        y = (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(dtype)
        librosa.pyin(y, fmin=80.0, fmax=400.0, sr=sr, frame_length=1024)
        librosa.effects.time_stretch(y, rate=1.1)
        spec = np.abs(librosa.stft(y, n_fft=512, hop_length=128))
        librosa.griffinlim(spec, n_iter=2, hop_length=128, n_fft=512)
        librosa.amplitude_to_db(spec, ref=np.max)
        mel = librosa.feature.melspectrogram(S=spec**2, sr=sr, n_mels=32)
        librosa.feature.inverse.mel_to_stft(mel, sr=sr, n_fft=512)
    return time.perf_counter() - t0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    seconds = warm_numba_cache()
    log.info("librosa's numba cache compiled in %.1f s", seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
