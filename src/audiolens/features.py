"""Spectrograms (linear or mel, dB re segment max) and their inversion back to audio.

Forward: :func:`spectrogram_db` turns a batch of equal-length segments ``(n, L)`` into
dB spectrograms ``(n, F, T)`` with values in ``[-top_db, 0]`` and the amplitude each 0 dB
stands for. The STFT matches ``librosa.stft(center=True, pad_mode="constant",
window="hann")``; it is batched (one FFT call per batch) and float32 throughout.

Convention for both kinds: ``dB = 20 log10(A / ref_amplitude)``, where ``A`` is the STFT
magnitude (linear) or the square root of the mel power (mel).

Inverse (for mask-and-reconstruct): :func:`db_to_audio` undoes the dB scaling, maps mel
back to linear magnitudes (NNLS) and resynthesises with the phase of the source segment
audio (recomputed by :func:`phase`, cheap) or, without source audio, with Griffin-Lim.
Read the source segment with :func:`read_segment_audio`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from audiolens.errors import ParameterError

__all__ = ["SpectrogramConfig", "spectrogram_db", "stft", "phase", "db_to_amplitude",
           "mel_to_linear", "db_to_audio", "read_segment_audio"]

AMIN = 1e-5  # smallest amplitude used in the dB conversion (-100 dB re 1)


@dataclass(frozen=True, kw_only=True)
class SpectrogramConfig:
    """STFT / mel settings of a feature set (the ``features`` params + sample rate).

    Attributes
    ----------
    kind : {"linear", "mel"}
    sample_rate : int
        Hz.
    n_fft, hop_length : int
        Samples; Hann window of ``n_fft``, frames centred (``T = 1 + L // hop_length``).
    n_mels : int
        Mel bands (``kind="mel"`` only).
    fmin, fmax : float
        Mel band edges (Hz); ``fmax=None`` means ``sample_rate / 2``.
    top_db : float
        Dynamic range kept below the segment maximum (dB).
    """

    kind: Literal["linear", "mel"]
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    fmin: float
    fmax: float | None
    top_db: float

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "mel"):
            raise ParameterError(f"kind must be 'linear' or 'mel' (got {self.kind!r})")
        nyq = self.sample_rate / 2
        if self.fmax is not None and not self.fmin < self.fmax <= nyq:
            raise ParameterError(f"fmin < fmax <= sample_rate/2 = {nyq:g} Hz required "
                             f"(got fmin={self.fmin:g}, fmax={self.fmax:g})")
        if self.fmin >= nyq:
            raise ParameterError(f"fmin = {self.fmin:g} Hz must be below sample_rate/2 = {nyq:g}")

    @classmethod
    def from_meta(cls, meta: dict) -> "SpectrogramConfig":
        """Rebuild from a features ``meta.json`` mapping."""
        return cls(kind=meta["kind"], sample_rate=int(meta["sample_rate"]), n_fft=int(meta["n_fft"]),
                   hop_length=int(meta["hop_length"]), n_mels=int(meta["n_mels"]),
                   fmin=float(meta["fmin"]), fmax=None if meta["fmax"] is None else float(meta["fmax"]),
                   top_db=float(meta["top_db"]))

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def n_linear(self) -> int:
        """Linear STFT bins ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def n_freqs(self) -> int:
        """F: rows of a spectrogram."""
        return self.n_mels if self.kind == "mel" else self.n_linear

    def n_frames(self, n_samples: int) -> int:
        """T: frames of a segment of ``n_samples``."""
        return 1 + int(n_samples) // self.hop_length

    def freqs_hz(self) -> np.ndarray:
        """Centre frequency of each row (Hz), shape (F,)."""
        import librosa

        if self.kind == "mel":
            return librosa.mel_frequencies(n_mels=self.n_mels + 2, fmin=self.fmin,
                                           fmax=self.fmax or self.sample_rate / 2)[1:-1]
        return np.fft.rfftfreq(self.n_fft, d=1.0 / self.sample_rate)

    def window(self) -> np.ndarray:
        """Periodic Hann window, float32, shape (n_fft,)."""
        k = np.arange(self.n_fft)
        return (0.5 - 0.5 * np.cos(2 * np.pi * k / self.n_fft)).astype(np.float32)

    def mel_basis(self) -> np.ndarray:
        """Mel filterbank (librosa, Slaney), float32, shape (n_mels, n_fft // 2 + 1)."""
        import librosa

        return librosa.filters.mel(sr=self.sample_rate, n_fft=self.n_fft, n_mels=self.n_mels,
                                   fmin=self.fmin, fmax=self.fmax).astype(np.float32)


def _frames(x: np.ndarray, config: SpectrogramConfig) -> np.ndarray:
    """Centred, zero-padded frames: ``(n, L)`` → ``(n, T, n_fft)`` (a strided view)."""
    pad = config.n_fft // 2
    xp = np.pad(x, ((0, 0), (pad, pad)))
    if xp.shape[1] < config.n_fft:
        xp = np.pad(xp, ((0, 0), (0, config.n_fft - xp.shape[1])))
    view = np.lib.stride_tricks.sliding_window_view(xp, config.n_fft, axis=-1)
    return view[:, : config.n_frames(x.shape[1]) * config.hop_length: config.hop_length]


def stft(y: np.ndarray, *, config: SpectrogramConfig) -> np.ndarray:
    """Complex STFT of one signal ``(L,)`` or a batch ``(n, L)`` → ``(F_lin, T)`` / ``(n, F_lin, T)``."""
    from scipy import fft

    x = np.atleast_2d(np.asarray(y, dtype=np.float32))
    spec = fft.rfft(_frames(x, config) * config.window(), axis=-1)  # (n, T, F_lin) complex64
    spec = np.swapaxes(spec, 1, 2)
    return spec[0] if np.ndim(y) == 1 else spec


def spectrogram_db(segments: np.ndarray, *, config: SpectrogramConfig,
                   mel_basis: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """dB spectrograms of a batch of equal-length segments.

    Parameters
    ----------
    segments : ndarray, shape (n, L)
        Audio at ``config.sample_rate`` (zero padding already applied).
    config : SpectrogramConfig
    mel_basis : ndarray, optional
        ``config.mel_basis()``, passed in to avoid rebuilding it per batch.

    Returns
    -------
    db : ndarray, shape (n, F, T), float32
        ``20 log10(A / ref)`` clipped to ``[-top_db, 0]`` (an all-zero segment is all
        ``-top_db``).
    ref_amplitude : ndarray, shape (n,), float32
        The amplitude that 0 dB stands for (the segment's maximum ``A``).
    """
    from scipy import fft

    x = np.asarray(segments, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"segments must have shape (n, L), got {x.shape}")
    mag = np.abs(fft.rfft(_frames(x, config) * config.window(), axis=-1))  # (n, T, F_lin)
    if config.kind == "mel":
        # aligned: an unaligned basis (unpickled from a Dask message) sends matmul off BLAS (other rounding)
        basis = config.mel_basis() if mel_basis is None else np.require(mel_basis, requirements=("C", "A"))
        mag = np.sqrt(np.matmul(np.square(mag), basis.T))  # (n, T, n_mels)
    amp = np.ascontiguousarray(np.swapaxes(mag, 1, 2))  # (n, F, T)
    ref = amp.max(axis=(1, 2)) if amp.size else np.zeros(len(x), np.float32)
    safe_ref = np.maximum(ref, AMIN)[:, None, None]
    np.maximum(amp, AMIN, out=amp)
    np.divide(amp, safe_ref, out=amp)
    np.log10(amp, out=amp)
    amp *= 20.0
    np.maximum(amp, -config.top_db, out=amp)
    amp[ref < AMIN] = -config.top_db
    return amp.astype(np.float32, copy=False), ref.astype(np.float32)


def phase(y: np.ndarray, *, config: SpectrogramConfig) -> np.ndarray:
    """Unit-modulus phase ``exp(i angle(STFT))`` of a segment ``(L,)`` → ``(F_lin, T)`` complex64."""
    s = stft(y, config=config)
    mag = np.abs(s)
    out = np.ones_like(s)
    nz = mag > 0
    out[nz] = s[nz] / mag[nz]
    return out


def db_to_amplitude(db: np.ndarray, *, ref_amplitude: float) -> np.ndarray:
    """Undo the dB scaling: ``ref_amplitude * 10 ** (db / 20)`` (same shape)."""
    return (float(ref_amplitude) * np.power(10.0, np.asarray(db, dtype=np.float64) / 20.0)).astype(np.float32)


def mel_to_linear(mel_amplitude: np.ndarray, *, config: SpectrogramConfig) -> np.ndarray:
    """Mel amplitudes ``(n_mels, T)`` → linear STFT magnitudes ``(n_fft//2+1, T)`` (NNLS)."""
    import librosa

    power = np.square(np.asarray(mel_amplitude, dtype=np.float32))
    return librosa.feature.inverse.mel_to_stft(power, sr=config.sample_rate, n_fft=config.n_fft,
                                               power=2.0, fmin=config.fmin, fmax=config.fmax)


def db_to_audio(db: np.ndarray, *, config: SpectrogramConfig, ref_amplitude: float,
                length: int, source_audio: np.ndarray | None = None, n_iter: int = 32,
                seed: int = 0) -> np.ndarray:
    """Turn a (possibly masked) dB spectrogram back into audio.

    Parameters
    ----------
    db : ndarray, shape (F, T)
        dB spectrogram as stored (masked cells may be set to any floor, e.g. -100 dB).
    config : SpectrogramConfig
    ref_amplitude : float
        From ``index.csv``.
    length : int
        Output length (samples), usually the segment length.
    source_audio : ndarray, shape (length,), optional
        The segment's audio (see :func:`read_segment_audio`): its phase is reused. When
        omitted, Griffin-Lim (``n_iter`` iterations, seeded) estimates a phase.

    Returns
    -------
    ndarray, shape (length,), float32
    """
    import librosa

    amp = db_to_amplitude(db, ref_amplitude=ref_amplitude)
    mag = mel_to_linear(amp, config=config) if config.kind == "mel" else amp
    kw = dict(hop_length=config.hop_length, n_fft=config.n_fft, window="hann", center=True,
              length=int(length))
    if source_audio is not None:
        ph = phase(np.asarray(source_audio, dtype=np.float32)[:length], config=config)
        t = min(ph.shape[1], mag.shape[1])
        y = librosa.istft(mag[:, :t] * ph[:, :t], **kw)
    else:
        y = librosa.griffinlim(mag, n_iter=n_iter, init="random",
                               random_state=np.random.default_rng(seed), pad_mode="constant", **kw)
    return y.astype(np.float32, copy=False)


def read_segment_audio(row: dict, *, root: str | Path = ".") -> np.ndarray:
    """Audio of one segment row (``audio_dir``, ``recording_id``, ``start``, ``end``), zero-padded.

    Returns
    -------
    ndarray, shape (end - start,), float32
    """
    from audiolens.io import read_audio

    path = Path(root) / str(row["audio_dir"]) / f"{row['recording_id']}.wav"
    start, end = int(row["start"]), int(row["end"])
    y, _ = read_audio(path, start=start, stop=end)
    out = np.zeros(end - start, dtype=np.float32)
    out[: len(y)] = y[: end - start]
    return out
