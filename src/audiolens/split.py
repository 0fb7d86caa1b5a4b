"""Leakage-safe train/val/test assignment of segments.

Every segment belongs to a *group* (its source recording's ``group`` column, or its
``speaker`` with ``group_by="speaker"``); a group never spans two splits. Groups are
stratified by their dominant class and allocated greedily so each split gets close to
its share of (original) segments. Augmented segments follow their source's group and
are kept only when that group is in train; otherwise they are marked ``unused``.

Methods: ``ratio`` (train/val/test fractions), ``folds`` (predefined ``fold`` column:
``test_fold`` is test, ``val_fold`` validation or carved from the rest), ``cv``
(``k`` folds; arrangement ``i`` has fold ``i`` as test and fold ``i+1 mod k`` as
validation; the ``split`` column holds arrangement 0). The ``cv`` folds are drawn
group-stratified, or, with ``predefined_folds``, they are the data's own ``fold`` values
(each predefined fold is the test set once, in natural order: ``1, 2, 10``; ``k`` must
equal their number).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

from audiolens.errors import DataError

__all__ = ["SplitError", "SPLITS", "make_split", "cv_arrangement", "cv_folds", "cv_fold_names", "split_positions",
           "split_counts", "check_split", "check_content", "fold_order"]

SPLITS = ("train", "val", "test")
UNUSED = "unused"


class SplitError(DataError):
    """The data cannot satisfy the requested split (message says why and what to change)."""


def _group_keys(seg: pd.DataFrame, group_by: str) -> pd.Series:
    if group_by == "speaker":
        if "speaker" not in seg.columns:
            raise SplitError("group_by is 'speaker' but the segments have no speaker column")
        spk = seg["speaker"].fillna("").astype(str)
        empty = spk == ""
        if empty.any():
            raise SplitError(f"group_by is 'speaker' but {int(empty.sum())} segment(s) have no "
                             f"speaker (e.g. {seg.loc[empty, 'segment_id'].iloc[0]}); give every recording a speaker "
                             f"or group by recording")
        return "spk:" + spk
    if group_by != "recording":
        raise SplitError(f"group_by: unknown value {group_by!r} (recording, speaker)")
    for col in ("group", "source_id", "recording_id"):
        if col in seg.columns:
            g = seg[col].fillna("").astype(str)
            if (g != "").all():
                return g
    raise SplitError("segments need a non-empty group (or source_id) column to split by recording")


def _group_table(seg: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    """One row per group: dominant label (mode of its original segments) and size."""
    orig = ~seg["augmented"].to_numpy(bool)
    base = pd.DataFrame({"group": keys.to_numpy(), "label": seg["label_index"].to_numpy(int)})
    use = base[orig] if orig.any() else base
    lab = use.groupby("group")["label"].agg(lambda s: int(s.value_counts().sort_index(kind="stable").idxmax()))
    size = use.groupby("group").size()
    out = pd.DataFrame({"label": lab, "size": size}).reset_index()
    missing = sorted(set(keys) - set(out["group"]))  # groups with only augmented rows
    if missing:
        raise SplitError(f"{len(missing)} group(s) have only augmented segments (e.g. {missing[0]}); "
                         f"augmented segments need their source's original segments")
    return out


def _allocate(groups: pd.DataFrame, targets: dict[str, float], *, seed: int) -> dict[str, str]:
    """Assign each group to a target name, per dominant-label stratum.

    Largest groups first (seeded tie-break); each goes to the name with the largest
    remaining segment deficit, except that names still empty get the last groups.
    """
    names = [k for k, v in targets.items() if v > 0]
    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    for _, stratum in groups.groupby("label", sort=True):
        stratum = stratum.iloc[rng.permutation(len(stratum))]
        stratum = stratum.sort_values("size", ascending=False, kind="stable")
        total = float(stratum["size"].sum())
        cur = {k: 0.0 for k in names}
        cnt = {k: 0 for k in names}
        for i, (g, size) in enumerate(zip(stratum["group"], stratum["size"])):
            empty = [k for k in names if cnt[k] == 0]
            pool = empty if (len(stratum) - i) <= len(empty) else names
            k = max(pool, key=lambda n: (targets[n] * total - cur[n], targets[n]))
            out[g] = k
            cur[k] += size
            cnt[k] += 1
    return out


def _require_classes(seg: pd.DataFrame, split: pd.Series, needed: list[str], group_by: str,
                     keys: pd.Series, class_names: list[str] | None) -> None:
    orig = ~seg["augmented"].to_numpy(bool)
    for c in sorted(seg.loc[orig, "label_index"].unique()):
        in_c = orig & (seg["label_index"].to_numpy() == c)
        have = set(split[in_c])
        lacking = [s for s in needed if s not in have]
        if lacking:
            name = class_names[c] if class_names and c < len(class_names) else str(c)
            n_groups = keys[in_c].nunique()
            raise SplitError(f"class {name!r} has {n_groups} group(s) (group_by: {group_by}) and "
                             f"cannot appear in every split ({', '.join(needed)}): none in "
                             f"{', '.join(lacking)}. Add recordings of this class, use fewer splits "
                             f"(val: 0 / fewer cv_folds) or group by recording.")


def cv_arrangement(cv_fold: pd.Series, augmented: pd.Series, *, fold: int, k: int) -> pd.Series:
    """Split names for CV arrangement ``fold``: test = ``fold``, val = ``fold+1 mod k``, rest train.

    Augmented rows outside train become ``unused``.
    """
    role = np.where(cv_fold == fold, "test", np.where(cv_fold == (fold + 1) % k, "val", "train"))
    role = np.where(augmented.to_numpy(bool) & (role != "train"), UNUSED, role)
    return pd.Series(role, index=cv_fold.index, name="split")


def cv_folds(split: pd.DataFrame, k: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """The cross-validation arrangements beyond the first: ``(fold, split table)`` for folds 1..k-1.

    Fold 0 is ``split`` itself (its ``split`` column holds arrangement 0, the main model);
    each yielded table is ``split`` with the ``split`` column of :func:`cv_arrangement`
    ``fold``. Nothing is yielded for ``k < 2``.
    """
    for fold in range(1, k):
        yield fold, split.assign(split=cv_arrangement(split["cv_fold"], split["augmented"], fold=fold, k=k))


def cv_fold_names(split: pd.DataFrame, k: int) -> list[str]:
    """Names of CV folds ``0..k-1``: the predefined fold values (``cv_fold_name``) or ``"0".."k-1"``."""
    if "cv_fold_name" in split.columns and "cv_fold" in split.columns:
        names = split.drop_duplicates("cv_fold").set_index("cv_fold")["cv_fold_name"].astype(str)
        return [names.get(i, str(i)) for i in range(k)]
    return [str(i) for i in range(k)]


def fold_order(values) -> list[str]:
    """Distinct fold values in natural order (``1, 2, 10``; numbers before other names)."""
    def key(v: str):
        return (0, int(v), v) if v.lstrip("-").isdigit() else (1, 0, v)
    return sorted({str(v) for v in values}, key=key)


def split_positions(store_index: pd.DataFrame, split: pd.DataFrame, name: str) -> np.ndarray:
    """Row positions in the features index whose ``split`` equals ``name``."""
    if not {"segment_id", "split"} <= set(split.columns):
        raise ValueError("split table needs columns segment_id, split")
    ids = set(split.loc[split["split"] == name, "segment_id"])
    unknown = ids - set(store_index["segment_id"])
    if unknown:
        raise ValueError(f"{len(unknown)} segment ids of split {name!r} are not in the features index "
                         f"(e.g. {sorted(unknown)[:3]}); re-run the split stage")
    return np.flatnonzero(store_index["segment_id"].isin(ids).to_numpy())


def make_split(segments: pd.DataFrame, *, method: str = "ratio", group_by: str = "recording",
               train: float = 0.7, val: float = 0.15, test: float = 0.15,
               test_fold: str | int | None = None, val_fold: str | int | None = None, cv_folds: int = 0,
               seed: int = 0, predefined_folds: bool = False, class_names: list[str] | None = None
               ) -> pd.DataFrame:
    """Assign every segment to ``train``/``val``/``test`` (or ``unused``).

    Parameters
    ----------
    segments : DataFrame
        Features ``index.csv`` / ``segments.csv`` rows: ``segment_id``, ``label_index``,
        ``augmented``, ``group`` (and ``speaker``, ``fold`` when used).
    method, group_by, train, val, test, test_fold, val_fold, cv_folds, seed
        The ``split`` params (fold values as str or int: ``1`` and ``"1"`` are the same fold).
    predefined_folds : bool
        ``method="cv"`` only: the folds are the data's ``fold`` column (each one the test set
        once, the next in natural order validation) instead of drawn group-stratified folds;
        ``cv_folds`` must equal the number of distinct folds.
    class_names : list of str, optional
        For error messages.

    Returns
    -------
    DataFrame
        ``segment_id, split, group_key, label_index, augmented`` (+ ``cv_fold`` for ``cv``,
        and ``cv_fold_name``, the predefined fold value, with ``predefined_folds``), in the
        input order.

    Raises
    ------
    SplitError
        When a class cannot be present in every split, a fold is unknown, a group spans
        predefined folds, speakers are missing for ``group_by="speaker"``, or the same audio
        (``audio_sha256``, when the table has it) would be in two splits.
    """
    need = {"segment_id", "label_index", "augmented"} - set(segments.columns)
    if need:
        raise SplitError(f"segments table lacks columns {sorted(need)}")
    if segments["segment_id"].duplicated().any():
        dup = segments.loc[segments["segment_id"].duplicated(), "segment_id"].iloc[0]
        raise SplitError(f"duplicate segment_id {dup!r} in the segments table")
    seg = segments.reset_index(drop=True).copy()
    seg["augmented"] = seg["augmented"].astype(str).str.lower().isin(["true", "1"])
    keys = _group_keys(seg, group_by)
    groups = _group_table(seg, keys)
    extra: dict[str, np.ndarray] = {}
    if method == "ratio":
        assign = _allocate(groups, {"train": train, "val": val, "test": test}, seed=seed)
        split = keys.map(assign)
        needed = [s for s, f in zip(SPLITS, (train, val, test)) if f > 0]
    elif method == "folds":
        split, needed = _fold_split(seg, keys, groups, test_fold=test_fold, val_fold=val_fold,
                                    train=train, val=val, seed=seed)
    elif method == "cv":
        if cv_folds < 3:
            raise SplitError(f"cv_folds must be >= 3 for method 'cv' (got {cv_folds})")
        if predefined_folds:
            fold, names = _predefined_cv_folds(seg, keys, cv_folds)
            extra["cv_fold_name"] = np.asarray(names, dtype=object)[fold.to_numpy()]
        else:
            assign = _allocate(groups, {i: 1.0 / cv_folds for i in range(cv_folds)}, seed=seed)
            fold = keys.map(assign).astype(int)
        _require_classes(seg, fold.astype(str), [str(i) for i in range(cv_folds)], group_by, keys,
                         class_names)
        extra["cv_fold"] = fold.to_numpy()
        check_content(seg, np.where(seg["augmented"], UNUSED, "fold " + fold.astype(str)))
        split = cv_arrangement(fold, seg["augmented"], fold=0, k=cv_folds)
        needed = list(SPLITS)
    else:
        raise SplitError(f"method: unknown value {method!r} (ratio, folds, cv)")
    split = pd.Series(np.where(seg["augmented"] & (split != "train"), UNUSED, split), name="split")
    _require_classes(seg, split, needed, group_by, keys, class_names)
    check_content(seg, split)
    out = pd.DataFrame({"segment_id": seg["segment_id"], "split": split, "group_key": keys,
                        "label_index": seg["label_index"].astype(int), "augmented": seg["augmented"],
                        **extra})
    check_split(out)
    return out


def _group_folds(seg: pd.DataFrame, keys: pd.Series, method: str) -> tuple[pd.Series, list[str]]:
    """The predefined fold of each group (from its original segments) and the folds in natural order."""
    if "fold" not in seg.columns:
        raise SplitError(f"method is {method!r} with predefined folds but the segments have no fold "
                         f"column (the segments need a fold column)")
    fold = seg["fold"].fillna("").astype(str)
    orig = ~seg["augmented"].to_numpy(bool)
    if method == "cv" and (fold[orig] == "").any():
        first = seg.loc[orig & (fold == "").to_numpy(), "segment_id"].iloc[0]
        raise SplitError(f"{int((fold[orig] == '').sum())} segment(s) have no fold (e.g. {first}); "
                         f"every recording needs a predefined fold (fold column)")
    per_group = pd.DataFrame({"g": keys[orig], "f": fold[orig]}).groupby("g")["f"].nunique()
    if (per_group > 1).any():
        bad = per_group[per_group > 1].index[0]
        raise SplitError(f"group {bad!r} has segments in several predefined folds; folds must not "
                         f"split a group (check the fold and group columns)")
    gfold = pd.DataFrame({"g": keys[orig], "f": fold[orig]}).drop_duplicates("g").set_index("g")["f"]
    return gfold, fold_order(set(gfold) - {""})


def _predefined_cv_folds(seg, keys, k: int) -> tuple[pd.Series, list[str]]:
    gfold, names = _group_folds(seg, keys, "cv")
    if k != len(names):
        raise SplitError(f"cv_folds = {k} but the data has {len(names)} predefined folds "
                         f"({', '.join(names)}); with predefined folds cv_folds must equal their number "
                         f"(set cv_folds: {len(names)})")
    index = {name: i for i, name in enumerate(names)}
    return keys.map(gfold).map(index).astype(int), names


def _fold_split(seg, keys, groups, *, test_fold, val_fold, train, val, seed):
    gfold, available = _group_folds(seg, keys, "folds")
    for name, value in (("test_fold", test_fold), ("val_fold", val_fold)):
        if value is not None and str(value) not in available:
            raise SplitError(f"split.{name} = {str(value)!r} is not a fold of the data (folds: {available})")
    role = {g: ("test" if f == str(test_fold) else "val" if val_fold is not None and f == str(val_fold)
                else "rest") for g, f in gfold.items()}
    needed = ["train", "test"]
    if val_fold is not None:
        needed.append("val")
        role = {g: ("train" if r == "rest" else r) for g, r in role.items()}
    else:
        rest = groups[groups["group"].map(role) == "rest"]
        frac_val = val / (train + val) if val > 0 else 0.0
        assign = _allocate(rest, {"train": 1.0 - frac_val, "val": frac_val}, seed=seed)
        role.update(assign)
        if frac_val > 0:
            needed.append("val")
    return keys.map(role), needed


def check_split(table: pd.DataFrame) -> None:
    """Raise ``AssertionError`` if a group spans splits or an augmented row is outside train."""
    used = table[table["split"] != UNUSED]
    spans = used.groupby("group_key")["split"].nunique()
    if (spans > 1).any():
        raise AssertionError(f"group {spans[spans > 1].index[0]!r} is in several splits")
    bad = table["augmented"].astype(bool) & table["split"].isin(["val", "test"])
    if bad.any():
        raise AssertionError(f"augmented segment {table.loc[bad, 'segment_id'].iloc[0]!r} outside train")


def check_content(segments: pd.DataFrame, split: pd.Series) -> None:
    """Raise :class:`SplitError` if the same audio (``audio_sha256``) is in two splits.

    Ingest keeps one copy of duplicated audio, so this holds by construction; it guards
    tables from elsewhere. Rows without the column or with an empty value are not checked;
    ``unused`` rows are ignored.
    """
    if "audio_sha256" not in segments.columns:
        return
    frame = pd.DataFrame({"content": segments["audio_sha256"].fillna("").astype(str).to_numpy(),
                          "split": np.asarray(split), "source": segments["source_id"].astype(str).to_numpy()
                          if "source_id" in segments.columns else segments["segment_id"].astype(str).to_numpy()})
    frame = frame[(frame["content"] != "") & (frame["split"] != UNUSED)]
    spans = frame.groupby("content")["split"].nunique()
    if (spans > 1).any():
        bad = frame[frame["content"] == spans[spans > 1].index[0]].drop_duplicates(["split", "source"])
        where = ", ".join(f"{r.source} ({r.split})" for r in bad.sort_values(["split", "source"]).itertuples())
        raise SplitError(f"the same audio (audio_sha256 {spans[spans > 1].index[0][:12]}...) is in several splits: "
                         f"{where}; duplicates must be removed at ingest (reports/ingest/duplicates.csv)")


def split_counts(table: pd.DataFrame, class_names: list[str] | None = None) -> pd.DataFrame:
    """Counts per split and class: ``split, label_index, label, segments, originals, augmented, groups``."""
    rows = []
    for (s, c), sub in table.groupby(["split", "label_index"], sort=True):
        rows.append({"split": s, "label_index": int(c),
                     "label": class_names[c] if class_names and c < len(class_names) else str(c),
                     "segments": len(sub), "originals": int((~sub["augmented"]).sum()),
                     "augmented": int(sub["augmented"].sum()), "groups": sub["group_key"].nunique()})
    order = {s: i for i, s in enumerate((*SPLITS, UNUSED))}
    out = pd.DataFrame(rows)
    return out.sort_values(["split", "label_index"], key=lambda c: c.map(order) if c.name == "split" else c,
                           kind="stable").reset_index(drop=True)
