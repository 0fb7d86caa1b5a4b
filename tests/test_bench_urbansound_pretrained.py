"""The pretrained-embedding comparator's per-fold scoring (no model or data needed: synthetic embeddings)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.bootstrap import BootstrapSettings

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_us_pre", ROOT / "benchmarks" / "urbansound_pretrained.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fold_result_scores_clips_by_mean_window_probability_and_pairs_the_baseline():
    """Embeddings that encode the class in window 0 only (window 1 is noise) are still classified
    per clip (mean of the two windows' probabilities); statistics carrying no class information
    stay near chance; the paired difference is positive and excludes 0. Fold 2 is the test set,
    only its clips are counted, grouped by source (fsID)."""
    rng = np.random.default_rng(0)
    n_per = 40  # clips per class per fold
    folds, classes = [1, 2, 10], 4
    rows = [(f, c, 1000 * f + 10 * c + i // 4) for f in folds for c in range(classes) for i in range(n_per)]
    labels = pd.DataFrame(rows, columns=["fold", "classID", "fsID"])
    y = labels["classID"].to_numpy()
    e = rng.normal(size=(len(labels), 2, 16))
    e[np.arange(len(labels)), 0, y] += 6.0  # window 0 says the class
    stats = rng.normal(size=(len(labels), 8))
    out = _bench().fold_result(e, stats, labels, 2, BootstrapSettings(resamples=200, seed=0))
    assert out["n_test"] == classes * n_per and out["n_train"] == 2 * classes * n_per
    assert out["embedding_logreg"]["n_recordings"] == classes * n_per // 4
    assert out["embedding_logreg"]["value"] > 0.9
    assert out["stats_logreg"]["value"] < 0.5
    d = out["difference"]
    assert np.isclose(d["diff"], out["embedding_logreg"]["value"] - out["stats_logreg"]["value"])
    assert d["lo"] > 0 and d["distinguishable"] == 1
