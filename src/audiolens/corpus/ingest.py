"""Ingest: probe every candidate recording and build the manifest (one row per recording).

The params keys naming fields (``label``, ``speaker``, ``group``, ``fold``) are checked
against the layout before any audio is read. Each file is then opened read-only and
probed (:mod:`audiolens.corpus.probe`: header, plausible rate and length, NaN/inf, the
SHA-256 of its bytes and the fingerprint of its decoded audio). Ids are unique by
construction (:mod:`audiolens.corpus.ids`); content duplicates are kept once or refused
(:mod:`audiolens.corpus.duplicates`). Files that cannot be used are listed with a reason;
ingest fails only when nothing usable is left or a class ends up with no recordings.
"""
from __future__ import annotations

import logging
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from audiolens.corpus.duplicates import DUPLICATE_COLUMNS, Copy, find_duplicates
from audiolens.corpus.ids import make_ids
from audiolens.corpus.layouts import Candidate, Skipped, list_candidates
from audiolens.corpus.probe import probe_file
from audiolens.errors import DataError
from audiolens.io import SKIPPED_COLUMNS, AudioReadError, atomic_write_csv

__all__ = ["IngestError", "IngestSettings", "IngestResult", "probe_file", "ingest", "MANIFEST_COLUMNS",
           "DUPLICATE_COLUMNS"]

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["id", "path", "duration_s", "sample_rate", "channels", "label", "label_index",
                    "speaker", "group", "fold", "sha256", "audio_sha256"]


class IngestError(DataError):
    """Nothing usable remains, or a class has no recordings."""


@dataclass(frozen=True, kw_only=True)
class IngestSettings:
    """Which files are recordings and how they are labelled (the ``data`` params section).

    Attributes
    ----------
    layout : {"demo", "regex", "folders", "csv"}
    pattern : str or None
        Regex with named groups matched against file names (``regex``, ``demo``).
    manifest : str or None
        CSV table (``csv``).
    label : str
        Field carrying the class: a named group, ``folder`` or a CSV column.
    positive : list of str or None
        Values mapped to class 1, the rest to 0 (None: one class per value).
    class_names : list of str or None
        Class names (negative, positive with ``positive``; else the order / subset of labels).
    speaker, group, fold : str or None
        Fields giving the speaker, the group (None: the recording) and a predefined fold.
    filename_column : str
        CSV column with the file path.
    extensions : list of str
        Audio file extensions considered.
    min_sample_rate, max_sample_rate : int
        Plausible sample rates (Hz, inclusive); files outside are skipped.
    n_jobs : int
        Worker processes (does not change the result).
    """

    layout: str
    pattern: str | None
    manifest: str | None
    label: str
    positive: list[str] | None
    class_names: list[str] | None
    speaker: str | None
    group: str | None
    fold: str | None
    filename_column: str
    extensions: list[str]
    min_sample_rate: int
    max_sample_rate: int
    n_jobs: int


@dataclass
class IngestResult:
    """Manifest (``MANIFEST_COLUMNS``), skipped files (``SKIPPED_COLUMNS``), content duplicates
    (``DUPLICATE_COLUMNS``) and class info."""

    manifest: pd.DataFrame
    skipped: pd.DataFrame
    classes: dict
    duplicates: pd.DataFrame


def _probe(job: tuple[str, str, int, int]) -> tuple[str, dict | None, tuple[str, str] | None]:
    root, rel, lo, hi = job
    try:
        return rel, probe_file(Path(root) / rel, min_sample_rate=lo, max_sample_rate=hi), None
    except AudioReadError as exc:
        return rel, None, (exc.reason, exc.detail)
    except OSError as exc:
        return rel, None, ("unreadable", str(exc)[:200])


def _natural_key(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _assign_labels(values: list[str], *, positive: list[str] | None,
                   class_names: list[str] | None) -> tuple[list[int | None], list[str]]:
    """Map raw label values to class indices; ``None`` where a value is not a known class."""
    if positive is not None:
        names = list(class_names) if class_names else ["negative", "positive"]
        pos = set(positive)
        return [1 if v in pos else 0 for v in values], names
    names = list(class_names) if class_names else sorted(set(values), key=_natural_key)
    lookup = {n: i for i, n in enumerate(names)}
    return [lookup.get(v) for v in values], names


def ingest(*, root: str | Path, settings: IngestSettings, skipped_path: str | Path | None = None,
           duplicates_path: str | Path | None = None) -> IngestResult:
    """Build the manifest of usable recordings under ``root``.

    ``settings.label`` names the field (regex group, ``folder``, or CSV column) that carries
    the class; with ``settings.positive`` the listed values become class 1 and everything
    else class 0 (a voice gate). The skipped table is also written to ``skipped_path`` and
    the duplicates table to ``duplicates_path`` (CSV, atomically) when given, whether ingest
    succeeds or fails.

    Raises
    ------
    LayoutError
        Before any audio is read: the root or CSV is missing, or a key names a field the
        layout does not have.
    IngestError
        When no usable recording remains or a class ends up empty. The skipped table is
        attached as ``exc.skipped``.
    """
    s = settings
    layout, label, positive, class_names = s.layout, s.label, s.positive, s.class_names
    speaker, group, fold = s.speaker, s.group, s.fold
    keys = {"data.label": label, "data.speaker": speaker, "data.group": group, "data.fold": fold}
    cands, skipped = list_candidates(root=root, layout=layout, pattern=s.pattern, manifest=s.manifest,
                                     filename_column=s.filename_column, extensions=s.extensions, keys=keys)
    skipped = list(skipped)
    ids, clashes = make_ids([c.path for c in cands])
    skipped += [Skipped(a, "id collision", f"same id as {b}") for a, b in clashes]
    cands = [c for c in cands if c.path in ids]
    usable: list[tuple[Candidate, dict]] = []
    jobs = [(str(root), c.path, s.min_sample_rate, s.max_sample_rate) for c in cands]
    by_path = {c.path: c for c in cands}
    if s.n_jobs > 1 and len(jobs) > 32:
        with ProcessPoolExecutor(max_workers=s.n_jobs) as pool:
            results = list(tqdm(pool.map(_probe, jobs, chunksize=16), total=len(jobs), desc="ingest",
                                disable=None))
    else:
        results = [_probe(j) for j in tqdm(jobs, desc="ingest", disable=None)]
    for rel, facts, err in results:
        if err is not None:
            skipped.append(Skipped(rel, *err))
            continue
        cand = by_path[rel]
        if not cand.fields.get(label, "").strip():
            skipped.append(Skipped(rel, "no label", f"field {label!r} is empty or missing"))
            continue
        usable.append((cand, facts))

    values = [c.fields[label].strip() for c, _ in usable]
    idx, names = _assign_labels(values, positive=positive, class_names=class_names)
    kept = []
    for (cand, facts), value, li in zip(usable, values, idx):
        if li is None:
            skipped.append(Skipped(cand.path, "label not in class_names", f"{label}={value!r}"))
        else:
            kept.append((cand, facts, li))
    drop, dup_skipped, duplicates = find_duplicates(
        [Copy(c.path, names[li], f["sha256"], f["audio_sha256"]) for c, f, li in kept])
    skipped += [Skipped(*d) for d in dup_skipped]
    kept = [(c, f, li) for c, f, li in kept if c.path not in drop]
    if positive is None and class_names is None:  # classes = the labels that remain
        idx, names = _assign_labels([names[li] for _, _, li in kept], positive=None, class_names=None)
        kept = [(c, f, li) for (c, f, _), li in zip(kept, idx)]
    rows = []
    for cand, facts, li in kept:
        rid = ids[cand.path]
        rows.append({"id": rid, "path": cand.path, **{k: facts[k] for k in ("duration_s", "sample_rate", "channels")},
                     "label": names[li], "label_index": li,
                     "speaker": cand.fields.get(speaker, "") if speaker else "",
                     "group": cand.fields.get(group, "") or rid if group else rid,
                     "fold": cand.fields.get(fold, "") if fold else "", "sha256": facts["sha256"],
                     "audio_sha256": facts["audio_sha256"]})
    table = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    skipped_df = pd.DataFrame(
        [{"id": ids.get(k.path, ""), "path": k.path, "reason": k.reason, "detail": k.detail} for k in skipped],
        columns=SKIPPED_COLUMNS).sort_values(["path", "reason"], kind="stable").reset_index(drop=True)
    classes = {"class_names": names, "label_field": label, "positive": positive}
    if duplicates_path is not None:
        atomic_write_csv(duplicates_path, duplicates)
    if skipped_path is not None:
        atomic_write_csv(skipped_path, skipped_df)

    def fail(msg: str) -> None:
        exc = IngestError(msg + (f" -- see {skipped_path}" if skipped_path is not None else ""))
        exc.skipped = skipped_df
        raise exc

    if table.empty:
        fail(f"no usable recordings under {root} (layout {layout!r}; {len(skipped_df)} files skipped"
             f"{': ' + ', '.join(skipped_df.reason.value_counts().index[:3]) if len(skipped_df) else ''})")
    counts = table.label.value_counts()
    empty = [n for n in names if counts.get(n, 0) == 0]
    if empty:
        hint = (f"; positive labels {positive} vs {label} values found: "
                f"{sorted(set(values), key=_natural_key)[:20]}") if positive is not None else ""
        fail(f"class(es) {empty} have no recordings{hint}")
    log.info("ingest: %d recordings, %d skipped, %d classes, %.1f s of audio",
             len(table), len(skipped_df), len(names), table.duration_s.sum())
    return IngestResult(table, skipped_df, classes, duplicates)
