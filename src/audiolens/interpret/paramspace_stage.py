"""What the ``paramspace`` stage does: weight drift over epochs and the layer-reset study."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from tqdm import tqdm

from audiolens.interpret import figures
from audiolens.interpret.paramspace import (drift_table, epoch_weight_files, reset_robustness,
                                            restored_epoch, snapshot, weight_history)
from audiolens.interpret.selection import split_positions_for, subsample
from audiolens.io import atomic_write_csv, atomic_write_json
from audiolens.plots import save_figure

__all__ = ["ParamspaceSettings", "run"]

LOG = logging.getLogger("audiolens.paramspace")


@dataclass(frozen=True, kw_only=True)
class ParamspaceSettings:
    """The layer-reset study's settings (built from the ``interpret`` params section).

    Attributes
    ----------
    reset_bn_stats : {"keep", "reset", "recompute"}
        BatchNorm moving statistics after a layer reset.
    critical_drop : float
        A reset whose accuracy drop's 95 % interval lies above this marks the layer critical
        (:func:`audiolens.interpret.paramspace.drop_interval`).
    max_eval : int
        Test segments scored per reset.
    bn_samples : int
        Train segments for recomputing BN statistics.
    max_reset_layers : int or None
        Layers in the study, evenly spread (None: all).
    include_augmented : bool
        Also use augmented train segments.
    batch_size : int
        Inference batch (examples).
    seed : int
        Seed of the samples and of the fresh random weights.
    """

    reset_bn_stats: str
    critical_drop: float
    max_eval: int
    bn_samples: int
    max_reset_layers: int | None
    include_augmented: bool
    batch_size: int
    seed: int


def run(*, model: keras.Model, weights_dir: str | Path, store, split_df: pd.DataFrame,
        out_dir: str | Path, settings: ParamspaceSettings) -> dict:
    """Weight drift over epochs and the layer re-initialisation study into ``out_dir``.

    Writes ``drift.csv``, ``drift.png``, ``robustness.csv``, ``robustness.json``,
    ``robustness.png`` and returns the summary (``summary.json``). The robustness table's
    ``relative_change_restored`` is each layer's drift from the initial weights to the
    weights ``model`` holds (the restored, early-stopping best ones the resets start from),
    not to the last saved epoch.
    """
    out, s = Path(out_dir), settings
    t0 = time.perf_counter()
    files = epoch_weight_files(weights_dir)
    if len(files) == 1:
        LOG.warning("%s has no epoch_NNN.weights.h5 (epochs not saved?): drift has epoch 0 only",
                    weights_dir)
    restored = snapshot(model)          # the weights the resets start from (best epoch, restored)
    hist = weight_history(model, files)
    drift = drift_table(model, hist)
    to_restored = drift_table(model, {0: hist[0], 1: restored})
    best = restored_epoch(hist, restored)
    atomic_write_csv(out / "drift.csv", drift)
    save_figure(figures.drift_figure(drift), out / "drift.png")
    t_drift = time.perf_counter() - t0

    train, test = split_positions_for(store, split_df, include_augmented=s.include_augmented)
    ev = subsample(test, s.max_eval, seed=s.seed)
    labels = store.index["label_index"].to_numpy(dtype=np.int64)
    x_stats = store.get(subsample(train, s.bn_samples, seed=s.seed + 1))
    table, ref = reset_robustness(model, store.get(ev), labels[ev], initial=hist[0], seed=s.seed,
                                  bn_stats=s.reset_bn_stats, x_stats=x_stats, critical_drop=s.critical_drop,
                                  max_layers=s.max_reset_layers,
                                  batch_size=s.batch_size,
                                  progress=lambda it: tqdm(it, desc="layer resets", unit="layer"))
    final = to_restored[to_restored["epoch"] == 1].set_index("layer")
    table["relative_change_restored"] = table["layer"].map(final["relative_change"])
    atomic_write_csv(out / "robustness.csv", table)
    atomic_write_json(out / "robustness.json", {
        "reference": ref, "epochs": [e for e, _ in files], "restored_epoch": best,
        "layers": table.replace({np.nan: None}).to_dict(orient="records"),
        "critical_initial": table.loc[table.status_initial == "critical", "layer"].tolist(),
        "critical_random": table.loc[table.status_random == "critical", "layer"].tolist()})
    save_figure(figures.robustness_figure(table, ref), out / "robustness.png")
    summary = {"n_layers": int(len(table)), "epochs": len(files) - 1, "reference": ref,
               "n_critical_initial": int((table.status_initial == "critical").sum()),
               "n_critical_random": int((table.status_random == "critical").sum()),
               "n_inconclusive_initial": int((table.status_initial == "inconclusive").sum()),
               "n_inconclusive_random": int((table.status_random == "inconclusive").sum()),
               "restored_epoch": best,
               "timings_s": {"drift_s": round(t_drift, 3), "total_s": round(time.perf_counter() - t0, 3)}}
    atomic_write_json(out / "summary.json", {k: v for k, v in summary.items() if k != "timings_s"})
    return summary
