"""Signal operations on one recording: downmix, resample, denoise, silence removal, time stretch.

Every function takes and returns float32 NumPy arrays of samples (shape ``(n,)``, mono,
unless stated) and explicit keyword arguments; none reads files or params.
"""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from audiolens.errors import DataError

__all__ = [
    "to_mono", "resample", "denoise", "silence_mask", "remove_silence", "time_stretch",
    "CleanSettings", "clean_signal", "DenoiseSkipped",
]


class DenoiseSkipped(DataError):
    """Noise reduction was not applied to a recording; the message says why."""


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average channels: ``(n,)`` or ``(n, channels)`` → ``(n,)`` float32."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        return y
    if y.ndim != 2:
        raise ValueError(f"audio must have shape (n,) or (n, channels), got {y.shape}")
    return y.mean(axis=1, dtype=np.float32)


def resample(y: np.ndarray, *, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling (libsoxr, high quality, deterministic) from ``sr_in`` to ``sr_out`` Hz.

    Parameters
    ----------
    y : ndarray, shape (n,)
    sr_in, sr_out : int
        Sample rates (Hz).

    Returns
    -------
    ndarray, shape (ceil(n * sr_out / sr_in),), float32
    """
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive (got sr_in={sr_in}, sr_out={sr_out})")
    y = np.asarray(y, dtype=np.float32)
    if sr_in == sr_out:
        return y
    import soxr

    return soxr.resample(y, int(sr_in), int(sr_out), quality="HQ").astype(np.float32, copy=False)


def denoise(y: np.ndarray, *, sr: int, noise_profile_s: float, stationary: bool,
            prop_decrease: float, freq_smooth_hz: float, time_smooth_ms: float) -> np.ndarray:
    """Spectral-gating noise reduction (noisereduce).

    Parameters
    ----------
    y : ndarray, shape (n,)
    sr : int
        Sample rate (Hz).
    noise_profile_s : float
        Seconds at the start of ``y`` that hold noise only; in stationary mode they are
        the noise profile (noisereduce ignores a profile in non-stationary mode).
    stationary : bool
        Stationary gating from the profile (True) or noisereduce's time-smoothed
        non-stationary gating (False).
    prop_decrease : float
        Fraction (0..1) by which the noise is reduced.
    freq_smooth_hz, time_smooth_ms : float
        Extent of the gate-mask smoothing (Hz, ms). noisereduce's default 500 Hz dilutes
        the mask of narrow-band sound (a tone, a voice harmonic) and attenuates it by
        10-15 dB; 50 Hz keeps such sound within 1 dB. Below one FFT bin (``sr / (n_fft/2)``)
        or one hop, no smoothing along that axis.

    Returns
    -------
    ndarray, shape (n,), float32

    Raises
    ------
    DenoiseSkipped
        In stationary mode when the recording is shorter than twice the profile, or when
        the profile is not at least 1 dB quieter (RMS) than the rest: then it holds the
        signal itself (e.g. clips trimmed of silence) and the gate would remove it.
    """
    import noisereduce as nr

    y = np.asarray(y, dtype=np.float32)
    n_fft = int(2 ** np.ceil(np.log2(max(64, 0.064 * sr))))  # ~64 ms window
    # noisereduce refuses smoothing narrower than one bin / one hop: that means no smoothing
    bin_hz, hop_ms = sr / (n_fft / 2), 1000.0 * (n_fft // 4) / sr
    common = dict(sr=sr, prop_decrease=prop_decrease, n_fft=n_fft, padding=max(n_fft, sr // 4),
                  freq_mask_smooth_hz=freq_smooth_hz if freq_smooth_hz >= bin_hz else None,
                  time_mask_smooth_ms=time_smooth_ms if time_smooth_ms >= hop_ms else None,
                  chunk_size=max(60 * sr, 4 * n_fft))
    if stationary:
        n_prof = int(round(noise_profile_s * sr))
        if n_prof < n_fft or len(y) < 2 * n_prof:
            raise DenoiseSkipped(
                f"recording of {len(y) / sr:.2f} s is too short for a {noise_profile_s:g} s noise "
                f"profile (needs >= {2 * max(n_prof, n_fft) / sr:.2f} s)")
        prof_db = _rms_db(y[:n_prof]) - _rms_db(y[n_prof:])
        if prof_db > -1.0:
            raise DenoiseSkipped(
                f"the first {noise_profile_s:g} s are not quieter than the rest ({prof_db:+.1f} dB): "
                f"not a noise-only profile (the gate would remove the signal)")
        out = nr.reduce_noise(y=y, y_noise=y[:n_prof], stationary=True, **common)
    else:
        if len(y) < 2 * n_fft:
            raise DenoiseSkipped(f"recording of {len(y)} samples is shorter than two {n_fft}-sample windows")
        common["padding"] = 2 * sr  # the non-stationary noise estimate (2 s time constant) needs warm-up
        out = nr.reduce_noise(y=y, stationary=False, **common)
    return np.asarray(out, dtype=np.float32)[: len(y)]


def _rms_db(y: np.ndarray) -> float:
    return float(10.0 * np.log10(np.mean(np.square(y, dtype=np.float64)) + 1e-20))


def silence_mask(y: np.ndarray, *, sr: int, frame_ms: float, threshold_db: float) -> np.ndarray:
    """Samples lying in a silent frame.

    Frames of ``frame_ms`` slide by a quarter frame; a frame is silent when its RMS is
    more than ``-threshold_db`` dB below the loudest frame's. A sample is silent when at
    least one silent frame covers it, so a silent stretch is found to within a quarter
    frame at each edge, and a frame that touches signal never removes it.

    Parameters
    ----------
    y : ndarray, shape (n,)
    sr : int
        Sample rate (Hz).
    frame_ms : float
        Frame length (ms).
    threshold_db : float
        Silence threshold relative to the loudest frame (dB, <= 0).

    Returns
    -------
    ndarray of bool, shape (n,)
        True where the sample is silent (all True for an all-zero signal).
    """
    y = np.asarray(y, dtype=np.float32)
    n = len(y)
    if n == 0:
        return np.zeros(0, dtype=bool)
    frame = max(1, min(n, int(round(frame_ms * sr / 1000.0))))
    hop = max(1, frame // 4)
    starts = np.arange(0, n - frame + 1, hop)
    if starts[-1] != n - frame:
        starts = np.append(starts, n - frame)
    c = np.concatenate([[0.0], np.cumsum(np.square(y, dtype=np.float64))])
    energy = np.maximum(c[starts + frame] - c[starts], 0.0) / frame
    peak = energy.max()
    if peak <= 0.0:
        return np.ones(n, dtype=bool)
    silent = energy < peak * 10.0 ** (threshold_db / 10.0)
    s = starts[silent]
    cover = np.bincount(s, minlength=n + 1)[: n + 1] - np.bincount(s + frame, minlength=n + 1)[: n + 1]
    return np.cumsum(cover[:n]) > 0


def remove_silence(y: np.ndarray, *, sr: int, frame_ms: float, threshold_db: float,
                   min_silence_s: float = 0.0, fade_ms: float = 2.0) -> np.ndarray:
    """Cut silent stretches at least ``min_silence_s`` long (see :func:`silence_mask`).

    Shorter pauses (between words) are kept. At each inner cut, ``fade_ms`` of the silent
    stretch is kept on both sides and faded out / in (half-Hann), so the join has no
    click; fades touch only samples found silent.

    Returns
    -------
    ndarray, shape (m,), float32
        The remaining samples, ``m <= n`` (0 for an all-silent signal).
    """
    x = np.array(y, dtype=np.float32)
    mask = silence_mask(x, sr=sr, frame_ms=frame_ms, threshold_db=threshold_db)
    if not mask.any():
        return x
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.view(np.int8), [0]])))
    keep = np.ones(len(mask), dtype=bool)
    min_len = max(1, int(round(min_silence_s * sr)))
    fade = int(round(fade_ms * sr / 1000.0))
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / max(fade, 1)).astype(np.float32) ** 2
    for a, b in zip(edges[0::2], edges[1::2]):
        if b - a < min_len:
            continue
        inner = a > 0 and b < len(x) and b - a > 2 * fade
        if inner and fade:  # fade out into the cut, fade in out of it
            x[a: a + fade] *= ramp[::-1]
            x[b - fade: b] *= ramp
            keep[a + fade: b - fade] = False
        else:
            keep[a:b] = False
    return x[keep]


def time_stretch(y: np.ndarray, *, sr: int, factor: float) -> np.ndarray:
    """Phase-vocoder time stretch: duration becomes ``len(y) / factor``, pitch is kept.

    The algorithm of ``librosa.effects.time_stretch`` (STFT, ``phase_vocoder``, ISTFT),
    called through ``librosa.core`` (importing ``librosa.effects`` costs ~4 s more per
    worker process). ``factor`` < 1 slows down (0.35 → 2.86× longer), > 1 speeds up.
    The STFT window is ~64 ms at ``sr`` (Hz).

    Returns
    -------
    ndarray, shape (round(n / factor),), float32
    """
    from librosa.core import istft, phase_vocoder, stft

    if factor <= 0:
        raise ValueError(f"time-stretch factor must be > 0 (got {factor})")
    y = np.asarray(y, dtype=np.float32)
    n_out = int(round(len(y) / factor))
    n_fft = int(2 ** np.ceil(np.log2(max(64, 0.064 * sr))))
    hop = n_fft // 4
    y_in = np.pad(y, (0, max(0, n_fft - len(y))))
    spec = phase_vocoder(stft(y_in, n_fft=n_fft, hop_length=hop), rate=factor, hop_length=hop, n_fft=n_fft)
    out = istft(spec, hop_length=hop, n_fft=n_fft, length=int(round(len(y_in) / factor)), dtype=np.float32)
    return out[:n_out].astype(np.float32, copy=False)


@dataclass(frozen=True, kw_only=True)
class CleanSettings:
    """What :func:`clean_signal` does (built from the ``clean`` section + ``audio.sample_rate``).

    Attributes
    ----------
    sample_rate : int
        Output sample rate (Hz).
    enabled : bool
        False: only downmix and resample (the unprocessed path).
    denoise : bool
        Spectral-gating noise reduction (noisereduce).
    noise_profile_s : float
        Leading noise-only seconds used as the noise profile (stationary mode).
    stationary : bool
        Stationary gating (False: non-stationary, ignores the profile).
    prop_decrease : float
        Fraction of the noise removed, in [0, 1].
    freq_smooth_hz, time_smooth_ms : float
        Gate-mask smoothing (Hz, ms).
    remove_silence : bool
        Cut silent stretches (:func:`remove_silence`).
    frame_ms : float
        Silence analysis frame (ms).
    threshold_db : float
        Silence threshold below the loudest frame (dB, <= 0).
    min_silence_s : float
        Shorter pauses are kept (s).
    """

    sample_rate: int
    enabled: bool
    denoise: bool
    noise_profile_s: float
    stationary: bool
    prop_decrease: float
    freq_smooth_hz: float
    time_smooth_ms: float
    remove_silence: bool
    frame_ms: float
    threshold_db: float
    min_silence_s: float


def clean_signal(y: np.ndarray, *, sr: int, settings: CleanSettings) -> tuple[np.ndarray, dict]:
    """Downmix, resample to ``settings.sample_rate``, denoise, remove silence.

    Parameters
    ----------
    y : ndarray, shape (n,) or (n, channels)
    sr : int
        Sample rate of ``y`` (Hz).

    Returns
    -------
    y_clean : ndarray, shape (m,), float32 at ``settings.sample_rate``
    info : dict
        ``duration_in_s``, ``duration_out_s``, ``removed_fraction`` (of the resampled
        duration), ``denoised`` (bool), ``denoise_note`` (why not, or "").
    """
    x = resample(to_mono(y), sr_in=sr, sr_out=settings.sample_rate)
    sr_out = settings.sample_rate
    n_in = len(x)
    denoised, note = False, ""
    if settings.enabled and settings.denoise:
        try:
            x = denoise(x, sr=sr_out, noise_profile_s=settings.noise_profile_s,
                        stationary=settings.stationary, prop_decrease=settings.prop_decrease,
                        freq_smooth_hz=settings.freq_smooth_hz, time_smooth_ms=settings.time_smooth_ms)
            denoised = True
        except DenoiseSkipped as exc:
            note = str(exc)
    if settings.enabled and settings.remove_silence:
        x = remove_silence(x, sr=sr_out, frame_ms=settings.frame_ms,
                           threshold_db=settings.threshold_db, min_silence_s=settings.min_silence_s)
    info = {"duration_in_s": n_in / sr_out, "duration_out_s": len(x) / sr_out,
            "removed_fraction": (1.0 - len(x) / n_in) if n_in else 0.0,
            "denoised": denoised, "denoise_note": note}
    return x, info
