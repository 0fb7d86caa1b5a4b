"""Content duplicates among usable recordings: the same audio under two names or two labels.

Recordings are grouped by their audio fingerprint (``audio_sha256``: the decoded int16
mono samples and rate, see :mod:`audiolens.corpus.probe`); byte-identical files (same
``sha256``: copies, hard links, symlinks inside the data root) always share it, and so
does the same audio in another container. In each group, sorted by path:

- all copies carry the same class label: the first is kept, the others are left out
  (``duplicate content``);
- the labels differ: every copy is left out (``conflicting labels``), since nothing
  says which label is right.

Each copy beyond the first gives one row of :data:`DUPLICATE_COLUMNS`: ``path_a`` (the first
of its group by path), ``path_b``, ``kind`` (``sha256``: the same bytes; ``audio``: the same
samples in other bytes), ``label_a``, ``label_b`` and ``action``.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["DUPLICATE_COLUMNS", "Copy", "find_duplicates"]

DUPLICATE_COLUMNS = ["path_a", "path_b", "kind", "label_a", "label_b", "action"]
KEPT = "kept a, skipped b (same label)"
REFUSED = "skipped both (labels differ)"


@dataclass(frozen=True)
class Copy:
    """One usable recording as duplicate detection sees it."""

    path: str
    label: str
    sha256: str
    audio_sha256: str


def find_duplicates(items: list[Copy]) -> tuple[set[str], list[tuple[str, str, str]], pd.DataFrame]:
    """Find content duplicates (see the module docstring).

    Parameters
    ----------
    items : list of Copy
        Usable recordings with their class label and both hashes.

    Returns
    -------
    drop : set of str
        Paths to leave out.
    skipped : list of (path, reason, detail)
        One entry per dropped path.
    table : DataFrame
        :data:`DUPLICATE_COLUMNS`, sorted by ``path_a, path_b``.
    """
    groups: dict[str, list[Copy]] = {}
    for it in items:
        groups.setdefault(it.audio_sha256, []).append(it)
    drop: set[str] = set()
    skipped: list[tuple[str, str, str]] = []
    rows: list[dict] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members = sorted(members, key=lambda c: c.path)
        first = members[0]
        labels = sorted({c.label for c in members})
        conflict = len(labels) > 1
        for other in members[1:]:
            kind = "sha256" if other.sha256 == first.sha256 else "audio"
            rows.append({"path_a": first.path, "path_b": other.path, "kind": kind, "label_a": first.label,
                         "label_b": other.label, "action": REFUSED if conflict else KEPT})
        if conflict:
            for c in members:
                others = ", ".join(f"{o.path} ({o.label})" for o in members if o is not c)
                skipped.append((c.path, "conflicting labels", f"label {c.label!r}; same audio as {others}"))
                drop.add(c.path)
        else:
            for c in members[1:]:
                kind = "same bytes" if c.sha256 == first.sha256 else "same decoded audio"
                skipped.append((c.path, "duplicate content", f"{kind} as {first.path} (kept)"))
                drop.add(c.path)
    table = pd.DataFrame(rows, columns=DUPLICATE_COLUMNS).sort_values(["path_a", "path_b"], kind="stable")
    return drop, skipped, table.reset_index(drop=True)
