"""Checks on an uploaded recording before it reaches the gate.

Content is sniffed from the first bytes, never trusted from the file name or the
declared content type; size is counted while the body is streamed to a private temp
folder; duration is read from the decoded stream's header by libsndfile.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["UploadError", "UploadLimits", "sniff_format", "save_upload", "check_duration"]

CHUNK = 1 << 16


class UploadError(Exception):
    """An upload refused before scoring; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


@dataclass(frozen=True, kw_only=True)
class UploadLimits:
    """Limits on one upload.

    Attributes
    ----------
    max_bytes : int
        Largest body accepted (bytes); more: 413.
    max_duration_s : float
        Longest decoded recording (s); longer: 413.
    """

    max_bytes: int
    max_duration_s: float


def sniff_format(head: bytes) -> str | None:
    """``"wav"``, ``"flac"`` or ``"ogg"`` from a file's first 12 bytes; None for anything else."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    return None


def save_upload(stream: BinaryIO, folder: Path, limits: UploadLimits) -> tuple[Path, str]:
    """Copy an upload into ``folder`` (a fresh temp dir) under a fixed name; returns (path, format).

    Raises
    ------
    UploadError
        400 empty body, 413 over ``limits.max_bytes``, 415 not WAV / FLAC / OGG.
    """
    head = stream.read(12)
    if not head:
        raise UploadError(400, "empty upload: no bytes received")
    fmt = sniff_format(head)
    if fmt is None:
        raise UploadError(415, "not a WAV, FLAC or OGG file (content sniffed: the name and type are not trusted)")
    path = folder / f"upload.{fmt}"  # never a name taken from the request
    size = len(head)
    with open(path, "wb") as out:
        out.write(head)
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limits.max_bytes:
                raise UploadError(413, f"upload larger than {limits.max_bytes / 2**20:g} MB (serve.max_upload_mb)")
            out.write(chunk)
    return path, fmt


def check_duration(path: Path, limits: UploadLimits) -> float:
    """Decoded duration of ``path`` (s), refusing corrupt or over-long recordings.

    Raises
    ------
    UploadError
        422 unreadable / no samples, 413 longer than ``limits.max_duration_s``.
    """
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:  # LibsndfileError subclasses RuntimeError
        raise UploadError(422, f"cannot read audio: {exc}") from None
    if info.samplerate <= 0 or info.frames <= 0:
        raise UploadError(422, "cannot read audio: the file holds no samples")
    seconds = info.frames / info.samplerate
    if seconds > limits.max_duration_s:
        raise UploadError(413, f"recording is {seconds:.1f} s long; the limit is {limits.max_duration_s:g} s "
                               "(serve.max_duration_s)")
    return seconds
