"""Safe file I/O: atomic writes, read-only audio reading, and the data-root path guard.

Every output of every stage goes through :func:`atomic_path` (write to a temp file
in the same directory, then ``os.replace``), so an interrupted stage never leaves a
half-written file behind. Temp names are ``.<name>.<pid>.*``: an exception (SIGTERM included,
see :func:`audiolens.runtime.stage_main`) removes them; those of a killed process (SIGKILL)
are removed by :func:`remove_stale_temps`, which every writer runs for its destination first.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from audiolens.errors import DataError

__all__ = [
    "SKIPPED_COLUMNS", "slug", "AudioReadError", "PathEscapeError", "atomic_path", "atomic_dir", "atomic_write_text",
    "atomic_write_json", "atomic_write_csv", "read_audio", "audio_info", "sha256_file",
    "resolve_inside", "file_problem", "read_json_object", "remove_stale_temps",
]

SKIPPED_COLUMNS = ("id", "path", "reason", "detail")
"""Columns of every stage's ``skipped.csv``: what was left out, where, why (short tag), details."""


def slug(text: str) -> str:
    """A file-name-safe version of ``text``.

    Runs of characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``;
    leading and trailing ``.`` / ``_`` are dropped (no hidden files, no ``..``); at most 80
    characters; ``"_"`` when nothing is left.
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._")[:80] or "_"


class AudioReadError(DataError):
    """An audio file that cannot be used; ``reason`` is a short machine-friendly tag."""

    def __init__(self, path: str | Path, reason: str, detail: str = ""):
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


class PathEscapeError(DataError):
    """A path that resolves outside the data root (``../``, absolute elsewhere, symlink out)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove temp files/directories of ``path``'s atomic writers left by dead processes.

    The writers name them ``.<name>.<pid>.<random>[suffix]`` beside ``path``: one is removed
    when that pid is not a live process. Older temps without a pid (``.<name>.<8 random
    characters>[suffix]``, ``.<name>.old.<pid>``) are removed too. Anything else, including
    the temps of a sibling output (``.<name>.csv.<pid>.*``), is left alone.

    Returns
    -------
    list of Path
        What was removed.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    name = re.escape(path.name)
    tagged = re.compile(rf"^\.{name}\.(\d+)\.")
    legacy = re.compile(rf"^\.{name}\.(?:[a-z0-9_]{{8}}(?:\.[^.]+)?|old\.\d+)$")
    removed = []
    for entry in path.parent.iterdir():
        m = tagged.match(entry.name)
        if not (m and not _pid_alive(int(m.group(1))) or not m and legacy.match(entry.name)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    Parameters
    ----------
    path : path
        Final destination; parent directories are created.
    suffix : str, optional
        Suffix of the temp file (default: the destination's own suffix, so that
        libraries choosing a format by extension keep working).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=suffix if suffix is not None else path.suffix,
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs follow the umask
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; swap it in for ``path`` on success.

    Any previous content of ``path`` is removed only once the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.{os.getpid()}.old"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (numpy scalars are converted)."""
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")
    return atomic_write_text(path, json.dumps(obj, indent=2, default=default) + "\n")


def atomic_write_csv(path: str | Path, frame: "Any") -> Path:
    """Write a pandas DataFrame as CSV (no index) atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a regular file, or None when it can.

    Returns ``"file not found"``, ``"is a directory"``, ``"not a regular file (FIFO)"`` (or
    socket, device, ...), or ``"permission denied"``; symlinks are followed.
    """
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "file not found" if not os.path.islink(path) else "file not found (broken symlink)"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return f"cannot access ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "is a directory"
    if not stat.S_ISREG(mode):
        kind = ("FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode)
                else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file")
        return f"not a regular file ({kind})"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def read_json_object(path: str | Path, what: str) -> dict:
    """Read a JSON file that must hold one object (``what`` names it in errors).

    Raises
    ------
    ConfigError
        Naming ``what`` and the file: not a readable regular file, not valid JSON (with the
        line and column), or not a JSON object.
    """
    from audiolens.errors import ConfigError

    problem = file_problem(path)
    if problem:
        raise ConfigError(f"{what} {path}: {problem}")
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path}: not valid JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg})") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"{what} {path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (read-only)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def resolve_inside(root: str | Path, relpath: str | Path) -> Path:
    """Resolve ``relpath`` against ``root`` and refuse anything that ends up outside it.

    Parameters
    ----------
    root : path
        The data root.
    relpath : path
        A path relative to the root (absolute paths are allowed only if inside it).

    Returns
    -------
    Path
        The resolved absolute path (symlinks followed).

    Raises
    ------
    PathEscapeError
        If the resolved path is not inside ``root`` (``../``, absolute elsewhere,
        or a symlink pointing out).
    """
    root_r = Path(root).resolve()
    cand = Path(relpath)
    full = (cand if cand.is_absolute() else root_r / cand).resolve()
    if full != root_r and root_r not in full.parents:
        raise PathEscapeError(f"{relpath}: path escapes the data root {root_r}")
    return full


def audio_info(path: str | Path) -> dict[str, Any]:
    """Header facts of an audio file: ``sample_rate`` (Hz), ``frames``, ``channels``, ``duration_s``.

    Raises
    ------
    AudioReadError
        ``empty file`` (0 bytes), ``unreadable`` (not a format soundfile reads),
        ``zero-length`` (no frames).
    """
    import soundfile as sf

    path = Path(path)
    if path.stat().st_size == 0:
        raise AudioReadError(path, "empty file")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError
        raise AudioReadError(path, "unreadable", str(exc).splitlines()[0][:200]) from None
    if info.frames <= 0:
        raise AudioReadError(path, "zero-length")
    return {"sample_rate": int(info.samplerate), "frames": int(info.frames),
            "channels": int(info.channels), "duration_s": info.frames / info.samplerate}


def read_audio(path: str | Path, *, mono: bool = True, check_finite: bool = True,
               start: int = 0, stop: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file read-only as float32.

    Parameters
    ----------
    path : path
        Any format soundfile reads (wav, flac, ogg, ...).
    mono : bool
        Average channels to mono (shape ``(n,)``); otherwise shape ``(n, channels)``.
    check_finite : bool
        Raise on NaN/inf samples.
    start, stop : int
        Frame range to read.

    Returns
    -------
    y : ndarray, float32
        Samples in [-1, 1] for integer formats.
    sr : int
        Sample rate (Hz).
    """
    import soundfile as sf

    path = Path(path)
    if path.stat().st_size == 0:
        raise AudioReadError(path, "empty file")
    try:
        with open(path, "rb") as fh:
            y, sr = sf.read(fh, dtype="float32", always_2d=True, start=start, stop=stop)
    except Exception as exc:
        raise AudioReadError(path, "unreadable", str(exc).splitlines()[0][:200]) from None
    if y.shape[0] == 0:
        raise AudioReadError(path, "zero-length")
    if check_finite and not np.isfinite(y).all():
        raise AudioReadError(path, "non-finite samples", "NaN or inf in the signal")
    if mono:
        y = y.mean(axis=1, dtype=np.float32)
    return y, int(sr)


def write_audio(path: str | Path, y: np.ndarray, sr: int, *, subtype: str = "FLOAT") -> Path:
    """Write audio atomically (default 32-bit float WAV, lossless for float32 data).

    The output is byte-identical for identical input: libsndfile's PEAK chunk (which
    stores the wall-clock time in float WAVs) is switched off.
    """
    import soundfile as sf

    y = np.asarray(y, dtype=np.float32)
    with atomic_path(path) as tmp:
        with sf.SoundFile(str(tmp), "w", int(sr), 1 if y.ndim == 1 else y.shape[1],
                          subtype=subtype, format="WAV") as fh:
            sf._snd.sf_command(fh._file, 0x1050, sf._ffi.NULL, 0)  # SFC_SET_ADD_PEAK_CHUNK off
            fh.write(y)
    return Path(path)
