"""The inputs the stages after ``train`` share: feature store, split table, model, training metadata.

``load_stage_inputs`` is the one preamble of the evaluate, uncertainty, interpret,
paramspace and attribution stages; the stage scripts pass the paths (from
:mod:`audiolens.paths`) so the paths a stage reads stay visible in the script.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audiolens.models.registry import load_model
from audiolens.segments import read_table
from audiolens.shards import FeatureStore
from audiolens.tfdata import open_features
from audiolens.split import split_positions

__all__ = ["StageInputs", "load_stage_inputs"]


@dataclass(frozen=True)
class StageInputs:
    """What a model-analysis stage reads.

    Attributes
    ----------
    store : FeatureStore
        The feature folder (index, meta, shards).
    split : pandas.DataFrame
        The split table (``segment_id``, ``split``, ...).
    model : keras.Model or None
        The trained model, when a model path was given.
    meta : dict
        ``train_meta.json`` when a meta path was given, else empty.
    """

    store: FeatureStore
    split: pd.DataFrame
    model: Any = None
    meta: dict = field(default_factory=dict)

    def positions(self, name: str) -> np.ndarray:
        """Row positions in the feature index of the segments in split ``name`` (``train``/``val``/``test``)."""
        return split_positions(self.store.index, self.split, name)


def load_stage_inputs(*, features: str | Path, split: str | Path, model: str | Path | None = None,
                      meta: str | Path | None = None, seed: int | None = None) -> StageInputs:
    """Open the feature store, read the split table and, when given, load the model and its metadata.

    Parameters
    ----------
    features : path
        Feature folder (``data/processed/features``).
    split : path
        Split table (``data/processed/split/split.csv``).
    model : path, optional
        A ``.keras`` model file.
    meta : path, optional
        ``train_meta.json`` written beside the model.
    seed : int, optional
        Seed Python, NumPy and Keras first (:func:`audiolens.runtime.seed_everything`).
    """
    if seed is not None:
        from audiolens.runtime import seed_everything

        seed_everything(seed)
    return StageInputs(store=open_features(features), split=read_table(split),
                       model=load_model(model) if model is not None else None,
                       meta=json.loads(Path(meta).read_text()) if meta is not None else {})
