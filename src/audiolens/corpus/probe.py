"""Probe one candidate recording: header facts, plausibility, finiteness and two content hashes.

The file is opened read-only and decoded once, in blocks (never the whole file in memory):

- ``sha256``: SHA-256 of the file's bytes (streamed in chunks);
- ``audio_sha256``: the *audio fingerprint*, SHA-256 of the decoded samples downmixed to
  mono and quantised to int16, at the native rate (the rate is hashed too). The same
  samples in another container (WAV vs FLAC, 16 vs 24 bit, PCM vs float) give the same
  fingerprint; two byte-identical files always do.

A file is refused (:class:`~audiolens.io.AudioReadError` with a short ``reason``) when it is
empty, unreadable, has no frames, holds NaN/inf samples, has a sample rate outside
``[min_sample_rate, max_sample_rate]`` (a 40 kB file at 1 Hz is not 20,000 s of sound), or
decodes to fewer frames than its header promises (a truncated copy: for RIFF/WAVE the
``data`` chunk size is compared with the bytes actually present, since libsndfile silently
clamps the frame count to the file length).
"""
from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from audiolens.io import AudioReadError, audio_info, sha256_file

__all__ = ["probe_file", "wav_declared_frames"]

_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streaming writers: "length unknown", not a promise


def wav_declared_frames(path: str | Path) -> tuple[int, int] | None:
    """Frames a RIFF/WAVE header promises and frames its bytes hold.

    Returns
    -------
    (declared, present) : tuple of int, or None
        ``None`` when the file is not a plain RIFF/WAVE (RF64, AIFF, FLAC, ...), has no
        ``fmt ``/``data`` chunk, or declares an unknown data size (0 or 0xFFFFFFFF).
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        block_align = None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            cid, csize = struct.unpack(endian + "4sI", fh.read(8))
            if cid == b"fmt ":
                fmt = fh.read(16)
                if len(fmt) < 16:
                    return None
                block_align = struct.unpack(endian + "H", fmt[12:14])[0]
            elif cid == b"data":
                if not block_align or csize in _UNKNOWN_SIZES:
                    return None
                present = max(0, min(csize, size - pos - 8))
                return csize // block_align, present // block_align
            pos += 8 + csize + (csize & 1)
    return None


def probe_file(path: str | Path, *, min_sample_rate: int, max_sample_rate: int,
               block_frames: int = 1 << 18) -> dict:
    """Header facts, plausibility checks, finiteness and content hashes of one audio file.

    Parameters
    ----------
    path : path
        The audio file (read-only).
    min_sample_rate, max_sample_rate : int
        Plausible sample rates (Hz, inclusive); others are refused.
    block_frames : int
        Frames decoded at a time.

    Returns
    -------
    dict
        ``duration_s`` (s, decoded frames / rate), ``sample_rate`` (Hz), ``channels``,
        ``sha256`` (file bytes), ``audio_sha256`` (decoded int16 mono samples + rate).

    Raises
    ------
    AudioReadError
        Reason ``empty file``, ``unreadable``, ``zero-length``, ``sample rate out of range``,
        ``truncated`` or ``non-finite samples``.
    """
    import soundfile as sf

    info = audio_info(path)
    sr = info["sample_rate"]
    if not min_sample_rate <= sr <= max_sample_rate:
        raise AudioReadError(path, "sample rate out of range",
                             f"{sr} Hz, plausible: {min_sample_rate}..{max_sample_rate} Hz")
    declared = wav_declared_frames(path)
    if declared is not None and declared[1] < declared[0]:
        raise AudioReadError(path, "truncated", f"header promises {declared[0] / sr:.3f} s, "
                                                f"file holds {declared[1] / sr:.3f} s")
    fingerprint = hashlib.sha256(f"{sr}:".encode())
    try:
        with open(path, "rb") as fh, sf.SoundFile(fh) as snd:
            exact = snd.format != "MPEG"  # an MP3 header's frame count is an estimate
            n_read = 0
            for block in snd.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    raise AudioReadError(path, "non-finite samples", "NaN or inf in the signal")
                mono = block.mean(axis=1, dtype=np.float64)
                q = np.clip(np.rint(mono * 32768.0), -32768, 32767).astype("<i2")
                fingerprint.update(q.tobytes())
                n_read += block.shape[0]
    except AudioReadError:
        raise
    except Exception as exc:
        raise AudioReadError(path, "unreadable", str(exc).splitlines()[0][:200]) from None
    if n_read == 0:
        raise AudioReadError(path, "zero-length")
    if exact and n_read < info["frames"]:
        raise AudioReadError(path, "truncated", f"header promises {info['frames'] / sr:.3f} s, "
                                                f"decoded {n_read / sr:.3f} s")
    return {"duration_s": n_read / sr, "sample_rate": sr, "channels": info["channels"],
            "sha256": sha256_file(path), "audio_sha256": fingerprint.hexdigest()}
