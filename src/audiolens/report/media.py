"""Smaller media for the report: figures re-encoded for embedding, audio compressed to OGG Vorbis.

Both are deterministic (same input, same bytes): WebP encoding is, and libsndfile's random
OGG stream serial number is replaced by a fixed one (page checksums recomputed), so the
report and its audio copies reproduce.
"""
from __future__ import annotations

import base64
import io
import mimetypes
import struct
from pathlib import Path

import numpy as np

from audiolens.io import atomic_path

__all__ = ["MAX_IMAGE_WIDTH", "WEBP_QUALITY", "embedded_image", "ogg_available", "ogg_vorbis", "fixed_ogg_serial"]

MAX_IMAGE_WIDTH = 800    # px: figures are shown at most 640 CSS px wide (560 in listening panels)
WEBP_QUALITY = 80        # lossy WebP for photo-like figures (spectrograms, galleries)
PLOT_COLOURS = 4096      # at most this many distinct colours: a line plot, encoded lossless


def embedded_image(path: Path, *, max_width: int = MAX_IMAGE_WIDTH) -> str:
    """A ``data:`` URI of the figure at ``path``, downsized to ``max_width`` and re-encoded as WebP.

    Figures with few colours (line plots, heatmaps with text) are encoded lossless, others
    (spectrograms, galleries) lossy at :data:`WEBP_QUALITY`; the original bytes are kept when
    they are smaller, and for formats PIL cannot read (SVG).
    """
    raw = path.read_bytes()
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    try:
        from PIL import Image

        with Image.open(io.BytesIO(raw)) as im:
            im.load()
            im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
            if im.width > max_width:
                im = im.resize((max_width, max(1, round(im.height * max_width / im.width))), Image.LANCZOS)
            buf = io.BytesIO()
            if im.getcolors(PLOT_COLOURS) is not None:
                im.save(buf, format="WEBP", lossless=True, method=4)
            else:
                im.save(buf, format="WEBP", quality=WEBP_QUALITY, method=4)
        if buf.tell() < len(raw):
            raw, mime = buf.getvalue(), "image/webp"
    except (ImportError, OSError, ValueError):
        pass
    return f"data:{mime};base64," + base64.b64encode(raw).decode("ascii")


def ogg_available() -> bool:
    """Whether soundfile (libsndfile) can write OGG Vorbis here."""
    try:
        import soundfile as sf
    except ImportError:  # pragma: no cover - soundfile is a dependency
        return False
    return "OGG" in sf.available_formats() and "VORBIS" in sf.available_subtypes("OGG")


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def _ogg_crc(data: bytes) -> int:
    c = 0
    for b in data:
        c = ((c << 8) & 0xFFFFFFFF) ^ _CRC[((c >> 24) ^ b) & 0xFF]
    return c


def fixed_ogg_serial(data: bytes, serial: int = 1) -> bytes:
    """The OGG stream ``data`` with every page's serial number set to ``serial`` (checksums recomputed)."""
    out, pos = bytearray(data), 0
    while pos < len(out):
        if out[pos:pos + 4] != b"OggS" or pos + 27 > len(out):
            raise ValueError(f"not an OGG page at byte {pos}")
        nseg = out[pos + 26]
        end = pos + 27 + nseg + sum(out[pos + 27:pos + 27 + nseg])
        out[pos + 14:pos + 18] = struct.pack("<I", serial)
        out[pos + 22:pos + 26] = b"\0\0\0\0"
        out[pos + 22:pos + 26] = struct.pack("<I", _ogg_crc(bytes(out[pos:end])))
        pos = end
    return bytes(out)


def ogg_vorbis(src: Path, dst: Path) -> Path:
    """Write ``src`` (any audio soundfile reads) as OGG Vorbis at ``dst`` (atomically); returns ``dst``.

    Vorbis takes at most 255 channels and float samples in [-1, 1] (clipped).
    """
    import soundfile as sf

    x, rate = sf.read(src, dtype="float32", always_2d=True)
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), rate, format="OGG", subtype="VORBIS")
    with atomic_path(dst) as tmp:
        tmp.write_bytes(fixed_ogg_serial(buf.getvalue()))
    return dst
