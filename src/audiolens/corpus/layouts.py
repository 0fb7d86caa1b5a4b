"""Corpus layouts: turn a data root into candidate recordings with their metadata fields.

- ``regex`` (and ``demo``): every audio file under the root whose *file name* fully matches
  a regex with named groups, e.g. DAPS ``(?P<speaker>[fm]\\d+)_(?P<script>script\\d+)_...``
  or FSDD ``(?P<digit>\\d)_(?P<speaker>[a-z]+)_(?P<take>\\d+)\\.wav``.
- ``folders``: ``root/<label>/.../file``; the field ``folder`` is the first folder name.
- ``csv``: a table (ESC-50 style) with a file-name column and any metadata columns.

Every path is checked to stay inside the root (``../``, absolute paths elsewhere and
symlinks out are refused). Files that cannot be used are returned as skipped rows with
a reason, never silently dropped.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from audiolens.errors import DataError
from audiolens.io import PathEscapeError, resolve_inside

__all__ = ["Candidate", "Skipped", "list_candidates", "LayoutError"]


class LayoutError(DataError):
    """The data root or manifest itself is unusable (missing, empty, wrong columns)."""


@dataclass(frozen=True)
class Candidate:
    """A file that may become a recording: ``path`` is POSIX, relative to the root."""

    path: str
    fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """A file left out, with a short ``reason`` and a longer ``detail``."""

    path: str
    reason: str
    detail: str = ""


def _walk_audio(root: Path, extensions: list[str]) -> tuple[list[str], list[Skipped]]:
    """Relative POSIX paths of audio files under ``root`` (sorted), refusing symlinks out."""
    found, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            rel = Path(dirpath, name).relative_to(root).as_posix()
            if name.startswith(".") or name.rsplit(".", 1)[-1].lower() not in extensions:
                continue
            try:
                resolve_inside(root, rel)
            except PathEscapeError as exc:
                skipped.append(Skipped(rel, "path escapes data root", str(exc)))
                continue
            found.append(rel)
    return found, skipped


def _regex(root: Path, pattern: str, extensions: list[str]) -> tuple[list[Candidate], list[Skipped]]:
    rx = re.compile(pattern)
    paths, skipped = _walk_audio(root, extensions)
    out = []
    for rel in paths:
        m = rx.fullmatch(rel.rsplit("/", 1)[-1])
        if m is None:
            skipped.append(Skipped(rel, "name does not match the pattern", pattern))
            continue
        out.append(Candidate(rel, {k: v for k, v in m.groupdict().items() if v is not None}))
    return out, skipped


def _folders(root: Path, extensions: list[str]) -> tuple[list[Candidate], list[Skipped]]:
    paths, skipped = _walk_audio(root, extensions)
    out = []
    for rel in paths:
        parts = rel.split("/")
        if len(parts) < 2:
            skipped.append(Skipped(rel, "not inside a class folder", "layout 'folders' needs root/<label>/file"))
            continue
        out.append(Candidate(rel, {"folder": parts[0]}))
    return out, skipped


def _csv(root: Path, manifest: Path, filename_column: str, extensions: list[str]
         ) -> tuple[list[Candidate], list[Skipped]]:
    if not manifest.is_file():
        raise LayoutError(f"manifest CSV file not found: {manifest}")
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    if filename_column not in table.columns:
        raise LayoutError(f"{manifest}: no column {filename_column!r} (the filename column); "
                          f"columns are {list(table.columns)}")
    out, skipped, seen = [], [], set()
    for row in table.to_dict("records"):
        name = row[filename_column].strip()
        if not name:
            skipped.append(Skipped("", "empty file name", f"row {row}"))
            continue
        try:
            full = resolve_inside(root, name)
        except PathEscapeError as exc:
            skipped.append(Skipped(name, "path escapes data root", str(exc)))
            continue
        rel = full.relative_to(root.resolve()).as_posix()
        if rel in seen:
            skipped.append(Skipped(rel, "duplicate row", f"listed more than once in {manifest.name}"))
            continue
        seen.add(rel)
        if not full.is_file():
            skipped.append(Skipped(rel, "missing file", f"listed in {manifest.name} but not found"))
            continue
        if rel.rsplit(".", 1)[-1].lower() not in extensions:
            skipped.append(Skipped(rel, "unsupported extension", f"allowed: {extensions}"))
            continue
        out.append(Candidate(rel, {k: str(v) for k, v in row.items()}))
    return out, skipped


def list_candidates(*, root: str | Path, layout: str, pattern: str | None, manifest: str | Path | None,
                    filename_column: str, extensions: list[str]) -> tuple[list[Candidate], list[Skipped]]:
    """List candidate recordings under ``root`` for a layout.

    Parameters
    ----------
    root : path
        Data root; every returned path is relative to it.
    layout : {'demo', 'regex', 'folders', 'csv'}
    pattern : str, optional
        Regex with named groups (``regex``/``demo``), matched against the file name.
    manifest : path, optional
        CSV table (``csv``).
    filename_column : str
        CSV column holding the file path relative to ``root``.
    extensions : list of str
        Audio file extensions considered, lower case, no dot.

    Returns
    -------
    candidates : list of Candidate
        Sorted by path.
    skipped : list of Skipped
    """
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"data root folder not found: {root}")
    extensions = [e.lower().lstrip(".") for e in extensions]
    if layout in ("regex", "demo"):
        if not pattern:
            raise LayoutError(f"a filename pattern is required for layout {layout!r}")
        cands, skipped = _regex(root, pattern, extensions)
    elif layout == "folders":
        cands, skipped = _folders(root, extensions)
    elif layout == "csv":
        if manifest is None:
            raise LayoutError("a manifest CSV is required for layout 'csv'")
        cands, skipped = _csv(root, Path(manifest), filename_column, extensions)
    else:
        raise LayoutError(f"unknown layout {layout!r} (allowed: demo, regex, folders, csv)")
    return sorted(cands, key=lambda c: c.path), skipped
