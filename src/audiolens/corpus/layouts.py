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


def _csv_rel(root: Path, name: str) -> str:
    """``name`` relative to ``root``, lexically (a symlink keeps its own name; escapes are checked elsewhere)."""
    base = os.path.abspath(root)
    rel = os.path.relpath(os.path.normpath(os.path.join(base, name)), base)
    if rel == ".." or rel.startswith("../"):  # the root spelled another way (a symlinked root): resolve both
        rel = os.path.relpath(Path(base, name).resolve(), root.resolve())
    return Path(rel).as_posix()


def _csv_table(manifest: Path, filename_column: str, keys: dict[str, str | None]) -> pd.DataFrame:
    if not manifest.is_file():
        raise LayoutError(f"data.manifest: manifest CSV file not found: {manifest}")
    try:
        table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LayoutError(f"data.manifest: {manifest} is not a readable CSV table ({exc})") from None
    cols = list(table.columns)
    for key, col in {"data.filename_column": filename_column, **keys}.items():
        if col is not None and col not in cols:
            raise LayoutError(f"{key} = {col!r} is not a column of {manifest} (columns: {cols})")
    return table


def _csv(root: Path, manifest: Path, filename_column: str, extensions: list[str],
         keys: dict[str, str | None]) -> tuple[list[Candidate], list[Skipped]]:
    table = _csv_table(manifest, filename_column, keys)
    label = keys.get("data.label")
    out, skipped, rows = [], [], {}
    for i, row in enumerate(table.to_dict("records")):
        name = row[filename_column].strip()
        if not name:
            skipped.append(Skipped("", "empty file name", f"row {i + 2} of {manifest.name}"))
            continue
        try:
            full = resolve_inside(root, name)
        except PathEscapeError as exc:
            skipped.append(Skipped(name, "path escapes data root", str(exc)))
            continue
        rows.setdefault(_csv_rel(root, name), []).append((i, row, full))
    for rel, listed in rows.items():
        _, row, full = listed[0]
        if len(listed) > 1:
            labels = sorted({r[label].strip() for _, r, _ in listed}) if label else []
            where = f"rows {', '.join(str(i + 2) for i, _, _ in listed)} of {manifest.name}"
            if len(labels) > 1:
                skipped.append(Skipped(rel, "conflicting rows", f"{where} give {label} = {labels}"))
                continue
            skipped.extend(Skipped(rel, "duplicate row", f"{where}; the first is used") for _ in listed[1:])
        if not full.is_file():
            skipped.append(Skipped(rel, "missing file", f"listed in {manifest.name} but not found"))
            continue
        if rel.rsplit(".", 1)[-1].lower() not in extensions:
            skipped.append(Skipped(rel, "unsupported extension", f"allowed: {extensions}"))
            continue
        out.append(Candidate(rel, {k: str(v) for k, v in row.items()}))
    return out, skipped


def _check_fields(keys: dict[str, str | None], available: list[str], what: str) -> None:
    for key, val in keys.items():
        if val is not None and val not in available:
            raise LayoutError(f"{key} = {val!r} is not {what} (available: {sorted(available)})")


def list_candidates(*, root: str | Path, layout: str, pattern: str | None, manifest: str | Path | None,
                    filename_column: str, extensions: list[str], keys: dict[str, str | None] | None = None
                    ) -> tuple[list[Candidate], list[Skipped]]:
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
    keys : dict, optional
        Params key -> field it names (``{"data.label": "category", "data.fold": None}``):
        each non-None field must be a named group of ``pattern``, ``folder`` (``folders``)
        or a CSV column, checked before any audio is read (:class:`LayoutError` names the
        key and lists what exists). A CSV path listed twice with different ``data.label``
        values is refused (``conflicting rows``).

    Returns
    -------
    candidates : list of Candidate
        Sorted by path.
    skipped : list of Skipped
    """
    root = Path(root)
    keys = dict(keys or {})
    if not root.is_dir():
        raise LayoutError(f"data.root: data root folder not found: {root}")
    extensions = [e.lower().lstrip(".") for e in extensions]
    if layout in ("regex", "demo"):
        if not pattern:
            raise LayoutError(f"data.pattern: a filename pattern is required for layout {layout!r}")
        _check_fields(keys, list(re.compile(pattern).groupindex), "a named group of data.pattern")
        cands, skipped = _regex(root, pattern, extensions)
    elif layout == "folders":
        _check_fields(keys, ["folder"], "a field of layout 'folders'")
        cands, skipped = _folders(root, extensions)
    elif layout == "csv":
        if manifest is None:
            raise LayoutError("data.manifest: a manifest CSV is required for layout 'csv'")
        cands, skipped = _csv(root, Path(manifest), filename_column, extensions, keys)
    else:
        raise LayoutError(f"unknown layout {layout!r} (allowed: demo, regex, folders, csv)")
    return sorted(cands, key=lambda c: c.path), skipped
