"""Which spectrograms the interpretation stages look at: splits, per-class picks, bounded samples."""
from __future__ import annotations

import numpy as np
import pandas as pd

from audiolens.split import split_positions

__all__ = ["pick_per_class", "subsample", "split_positions_for"]



def pick_per_class(labels: np.ndarray, positions: np.ndarray, *, per_class: int, n_classes: int,
                   seed: int) -> tuple[dict[int, np.ndarray], list[int]]:
    """Seeded choice of up to ``per_class`` positions of each class (sorted).

    Returns ``({class: positions}, [classes with no candidate])``.
    """
    rng = np.random.default_rng(seed)
    chosen, missing = {}, []
    for c in range(n_classes):
        cand = positions[labels[positions] == c]
        if len(cand) == 0:
            missing.append(c)
            continue
        chosen[c] = np.sort(rng.choice(cand, size=min(per_class, len(cand)), replace=False))
    return chosen, missing


def subsample(positions: np.ndarray, limit: int, *, seed: int) -> np.ndarray:
    """At most ``limit`` of ``positions`` (seeded, sorted)."""
    if len(positions) <= limit:
        return np.asarray(positions)
    return np.sort(np.random.default_rng(seed).choice(positions, size=limit, replace=False))


def split_positions_for(store, split_df: pd.DataFrame, *,
                        include_augmented: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the ``train`` (augmented rows dropped unless asked) and ``test`` splits."""
    train = split_positions(store.index, split_df, "train")
    test = split_positions(store.index, split_df, "test")
    if not include_augmented and "augmented" in store.index.columns:
        train = train[~store.index["augmented"].to_numpy(dtype=bool)[train]]
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"split has {len(train)} train and {len(test)} test segments; "
                         f"the interpret stages need both")
    return train, test
