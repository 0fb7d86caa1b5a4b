"""Recording ids: unique by construction, readable, stable across runs.

An id is the relative path without its extension, ``/`` replaced by ``__``
(``sub/clash.wav`` -> ``sub__clash``). Ids are file names downstream
(``data/interim/clean/<id>.wav``), so two paths whose ids would be equal, also when
compared case-insensitively after Unicode NFC normalisation (macOS and Windows file
systems), *all* get a short hash of their own relative path appended
(``sub__clash__1a2b3c4d``). The result depends only on the set of paths, never on their
order, so it is the same in every run. If a disambiguated id still collides (a file
literally named like another's disambiguated id), both files are returned as a clash, to be
skipped with both names given.
"""
from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict

__all__ = ["base_id", "make_ids"]


def base_id(path: str) -> str:
    """``path`` (POSIX, relative) without its extension, ``/`` -> ``__``."""
    name = path.rsplit("/", 1)
    stem = name[-1].rsplit(".", 1)[0] if "." in name[-1].lstrip(".") else name[-1]
    return (name[0] + "/" + stem if len(name) == 2 else stem).replace("/", "__")


def _key(rid: str) -> str:
    return unicodedata.normalize("NFC", rid).casefold()


def _short_hash(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def make_ids(paths: list[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Unique id of each relative path (see the module docstring).

    Parameters
    ----------
    paths : list of str
        Distinct POSIX paths relative to the data root.

    Returns
    -------
    ids : dict
        path -> id, for every path not in a clash.
    clashes : list of (path, other_path)
        Paths whose disambiguated id still equals another's (both left out of ``ids``).
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        groups[_key(base_id(p))].append(p)
    ids = {}
    for members in groups.values():
        for p in members:
            ids[p] = base_id(p) if len(members) == 1 else f"{base_id(p)}__{_short_hash(p)}"
    by_key: dict[str, list[str]] = defaultdict(list)
    for p in sorted(paths):
        by_key[_key(ids[p])].append(p)
    clashes = []
    for members in by_key.values():
        if len(members) > 1:
            for p in members:
                clashes.append((p, next(o for o in members if o != p)))
                del ids[p]
    return ids, sorted(clashes)
