"""Seeded, bounded samples of a table: EDA cost depends on params, not on corpus size."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["balanced_quota", "choose_groups", "sample_balanced", "sample_seconds_per_group"]


def balanced_quota(counts: dict[str, int], total: int) -> dict[str, int]:
    """Split a budget of ``total`` rows across groups as evenly as their sizes allow.

    Water-filling: every group gets the same share, groups smaller than their share
    give the remainder to the others. Sum of the result is ``min(total, sum(counts))``.
    """
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    quota = {k: 0 for k in counts}
    left = min(total, sum(counts.values()))
    open_groups = sorted((k for k, c in counts.items() if c > 0), key=lambda k: (counts[k], str(k)))
    while left > 0 and open_groups:
        share = max(1, left // len(open_groups))
        still = []
        for k in open_groups:
            give = min(share, counts[k] - quota[k], left)
            quota[k] += give
            left -= give
            if quota[k] < counts[k]:
                still.append(k)
            if left == 0:
                break
        open_groups = still
    return quota


def choose_groups(values: pd.Series, *, max_groups: int, seed: int) -> list[str]:
    """The distinct values of ``values`` (as str), or a seeded random ``max_groups`` of them.

    Returned in sorted order; used to bound per-speaker figures on corpora with many speakers.
    """
    if max_groups < 1:
        raise ValueError(f"max_groups must be >= 1, got {max_groups}")
    groups = sorted(values.astype(str).unique())
    if len(groups) <= max_groups:
        return groups
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(groups, size=max_groups, replace=False).tolist())


def sample_balanced(table: pd.DataFrame, *, by: str, total: int, seed: int) -> pd.DataFrame:
    """At most ``total`` rows, spread evenly over the values of column ``by``.

    Rows within a group are drawn at random (seeded); the result keeps the original
    row order, so the same inputs and seed give the same sample.
    """
    if by not in table.columns:
        raise ValueError(f"cannot sample by {by!r}: column missing (have {list(table.columns)})")
    if len(table) <= total:
        return table.copy()
    rng = np.random.default_rng(seed)
    groups = {k: g.index.to_numpy() for k, g in table.groupby(by, sort=True)}
    quota = balanced_quota({k: len(v) for k, v in groups.items()}, total)
    keep = [rng.choice(idx, size=quota[k], replace=False) for k, idx in groups.items() if quota[k]]
    chosen = np.sort(np.concatenate(keep)) if keep else np.array([], dtype=int)
    return table.loc[table.index.isin(chosen)].copy()


def sample_seconds_per_group(table: pd.DataFrame, *, by: str, seconds: float, seed: int,
                             max_rows: int | None = None,
                             duration_col: str = "duration_s") -> pd.DataFrame:
    """Random rows per group until ``seconds`` of audio are gathered.

    Parameters
    ----------
    table : DataFrame
        One row per recording with ``<by>`` and ``<duration_col>`` (seconds).
    seconds : float
        Audio budget per group; the last row drawn is cut to fit (``take_s``).
    max_rows : int, optional
        Also at most this many rows per group.

    Returns
    -------
    DataFrame
        The chosen rows (grouped, in draw order) with an added ``take_s`` column
        (seconds to read from the start of each recording).
    """
    for col in (by, duration_col):
        if col not in table.columns:
            raise ValueError(f"cannot sample: column {col!r} missing (have {list(table.columns)})")
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    rng = np.random.default_rng(seed)
    parts = []
    for _, grp in table.groupby(by, sort=True):
        order = grp.iloc[rng.permutation(len(grp))]
        if max_rows is not None:
            order = order.iloc[:max_rows]
        dur = order[duration_col].to_numpy(dtype=np.float64)
        before = np.concatenate([[0.0], np.cumsum(dur)[:-1]])
        keep = before < seconds
        chosen = order.loc[keep].copy()
        chosen["take_s"] = np.minimum(dur[keep], seconds - before[keep])
        parts.append(chosen)
    if not parts:
        return table.iloc[:0].assign(take_s=pd.Series(dtype=float))
    return pd.concat(parts)
