"""Ingest: probe every candidate recording and build the manifest (one row per recording).

Each file is opened read-only, its header read, its samples scanned in blocks for
NaN/inf (never the whole corpus in memory) and its bytes hashed (SHA-256). Files that
cannot be used are listed with a reason; ingest fails only when nothing usable is
left or a class ends up with no recordings.
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

from audiolens.corpus.layouts import Candidate, Skipped, list_candidates
from audiolens.errors import DataError
from audiolens.io import SKIPPED_COLUMNS, AudioReadError, atomic_write_csv, audio_info, sha256_file

__all__ = ["IngestError", "IngestSettings", "IngestResult", "probe_file", "ingest", "MANIFEST_COLUMNS"]

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["id", "path", "duration_s", "sample_rate", "channels", "label", "label_index",
                    "speaker", "group", "fold", "sha256"]


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
    n_jobs: int


@dataclass
class IngestResult:
    """Manifest (``MANIFEST_COLUMNS``), skipped files (``SKIPPED_COLUMNS``) and class info."""

    manifest: pd.DataFrame
    skipped: pd.DataFrame
    classes: dict


def probe_file(path: str | Path, *, block_frames: int = 1 << 18) -> dict:
    """Header facts, finiteness and SHA-256 of one audio file (read-only).

    Returns
    -------
    dict
        ``duration_s`` (s), ``sample_rate`` (Hz), ``channels``, ``sha256``.

    Raises
    ------
    AudioReadError
        With reason ``empty file``, ``unreadable``, ``zero-length`` or ``non-finite samples``.
    """
    import soundfile as sf

    info = audio_info(path)
    try:
        with open(path, "rb") as fh, sf.SoundFile(fh) as snd:
            n_read = 0
            for block in snd.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    raise AudioReadError(path, "non-finite samples", "NaN or inf in the signal")
                n_read += block.shape[0]
    except AudioReadError:
        raise
    except Exception as exc:
        raise AudioReadError(path, "unreadable", str(exc).splitlines()[0][:200]) from None
    if n_read == 0:
        raise AudioReadError(path, "zero-length")
    return {"duration_s": n_read / info["sample_rate"], "sample_rate": info["sample_rate"],
            "channels": info["channels"], "sha256": sha256_file(path)}


def _probe(job: tuple[str, str]) -> tuple[str, dict | None, tuple[str, str] | None]:
    root, rel = job
    try:
        return rel, probe_file(Path(root) / rel), None
    except AudioReadError as exc:
        return rel, None, (exc.reason, exc.detail)
    except OSError as exc:
        return rel, None, ("unreadable", str(exc)[:200])


def _natural_key(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _make_ids(paths: list[str]) -> list[str]:
    ids = [p.rsplit(".", 1)[0].replace("/", "__") for p in paths]
    if len(set(ids)) != len(ids):  # same stem, different extensions
        ids = [p.replace("/", "__").replace(".", "_") for p in paths]
    return ids


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


def ingest(*, root: str | Path, settings: IngestSettings,
           skipped_path: str | Path | None = None) -> IngestResult:
    """Build the manifest of usable recordings under ``root``.

    ``settings.label`` names the field (regex group, ``folder``, or CSV column) that carries
    the class; with ``settings.positive`` the listed values become class 1 and everything
    else class 0 (a voice gate). The skipped table is also written to ``skipped_path`` (CSV,
    atomically) when given, whether ingest succeeds or fails.

    Raises
    ------
    IngestError
        When no usable recording remains or a class ends up empty. The skipped table is
        attached as ``exc.skipped``.
    """
    s = settings
    layout, label, positive, class_names = s.layout, s.label, s.positive, s.class_names
    speaker, group, fold = s.speaker, s.group, s.fold
    cands, skipped = list_candidates(root=root, layout=layout, pattern=s.pattern, manifest=s.manifest,
                                     filename_column=s.filename_column, extensions=s.extensions)
    skipped = list(skipped)
    usable: list[tuple[Candidate, dict]] = []
    jobs = [(str(root), c.path) for c in cands]
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
    rows = []
    ids = _make_ids([c.path for c, _ in usable])
    for rid, (cand, facts), value, li in zip(ids, usable, values, idx):
        if li is None:
            skipped.append(Skipped(cand.path, "label not in class_names", f"{label}={value!r}"))
            continue
        rows.append({"id": rid, "path": cand.path, **{k: facts[k] for k in ("duration_s", "sample_rate", "channels")},
                     "label": names[li], "label_index": li,
                     "speaker": cand.fields.get(speaker, "") if speaker else "",
                     "group": cand.fields.get(group, "") or rid if group else rid,
                     "fold": cand.fields.get(fold, "") if fold else "", "sha256": facts["sha256"]})
    table = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    skipped_df = pd.DataFrame(
        [{"id": "", "path": s.path, "reason": s.reason, "detail": s.detail} for s in skipped],
        columns=SKIPPED_COLUMNS).sort_values(["path", "reason"], kind="stable").reset_index(drop=True)
    classes = {"class_names": names, "label_field": label, "positive": positive}
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
    return IngestResult(table, skipped_df, classes)
