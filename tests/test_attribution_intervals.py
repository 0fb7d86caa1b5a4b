"""Grouped bootstrap intervals and paired comparisons of the attribution stage's fidelity metrics."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiolens.attribution.intervals import comparisons, mean_interval, resampled_means, verdict
from audiolens.attribution.report import curve_summary
from audiolens.bootstrap import BootstrapSettings, GroupBootstrap

SETTINGS = BootstrapSettings(resamples=1000, seed=0)


def test_segments_of_one_recording_move_together_in_every_resample():
    # 2 recordings x 6 segments: recording a all 0, recording b all 1
    values = np.r_[np.zeros(6), np.ones(6)]
    groups = np.repeat(["a", "b"], 6)
    boot = GroupBootstrap(groups, resamples=1000, seed=0)
    means = resampled_means(boot, values)
    assert set(np.round(means, 9)) <= {0.0, 0.5, 1.0}          # whole recordings drawn, never single segments
    assert mean_interval(values, groups, SETTINGS) == {"lo": 0.0, "hi": 1.0}
    # ignoring the grouping (12 independent segments) would give a much narrower interval
    flat = mean_interval(values, np.arange(12), SETTINGS)
    assert flat["lo"] > 0.15 and flat["hi"] < 0.85
    assert mean_interval(values, groups, None) is None and mean_interval(values, groups,
                                                                         BootstrapSettings(resamples=0, seed=0)) is None


def test_nan_values_are_left_out_of_each_resampled_mean():
    boot = GroupBootstrap(np.arange(4), resamples=200, seed=1)
    means = resampled_means(boot, [1.0, np.nan, 1.0, 1.0])
    assert np.all((means == 1.0) | np.isnan(means)) and np.isfinite(means).mean() > 0.9


def _frame(values: dict[str, np.ndarray], groups) -> pd.DataFrame:
    n = len(groups)
    return pd.concat([pd.DataFrame({"explainer": k, "segment_id": [f"s{i}" for i in range(n)],
                                    "recording_id": list(groups), "m": v}) for k, v in values.items()],
                     ignore_index=True)


def test_comparisons_are_paired_directional_and_say_when_not_distinguishable():
    rng = np.random.default_rng(0)
    groups = np.repeat([f"r{i}" for i in range(10)], 2)
    base = rng.normal(0, 1, size=20)                       # large shared per-example variation
    frame = _frame({"good": base + 0.5, "same": base + 0.01 * rng.normal(size=20), "random": base}, groups)
    out = comparisons(frame, ["m"], settings=SETTINGS).set_index(["a", "b"])
    assert set(out.index) == {("good", "random"), ("same", "random"), ("good", "same")}
    good = out.loc[("good", "random")]
    # paired: the shared variation cancels, so +0.5 everywhere is distinguishable with a tight interval
    assert good["diff"] == pytest.approx(0.5) and good["lo"] == pytest.approx(0.5) and good["distinguishable"] == 1
    assert good["verdict"] == "good better" and good["n"] == 20 and good["n_recordings"] == 10
    assert out.loc[("same", "random"), "verdict"] == "not distinguishable"
    low = comparisons(frame, ["m"], settings=SETTINGS, lower_is_better=["m"]).set_index(["a", "b"])
    assert low.loc[("good", "random"), "verdict"] == "random better"
    off = comparisons(frame, ["m"], settings=None)
    assert off["lo"].isna().all() and (off["verdict"] == "not distinguishable").all()


def test_the_control_is_each_rows_own_rand_column_when_there_is_one():
    groups = np.repeat(["a", "b", "c"], 2)
    frame = _frame({"x": np.ones(6)}, groups).assign(rand_m=0.25)
    row = comparisons(frame, ["m"], settings=SETTINGS).iloc[0]
    assert (row["a"], row["b"], row["b_value"], row["diff"]) == ("x", "random", 0.25, 0.75)


def test_verdict_reads_the_sign_of_the_interval():
    d = {"diff": -0.2, "lo": -0.3, "hi": -0.1, "distinguishable": 1}
    assert verdict(d, lower_is_better=True, names=("ig", "random")) == "ig better"
    assert verdict(d, lower_is_better=False, names=("ig", "random")) == "random better"
    assert verdict({**d, "distinguishable": 0}, lower_is_better=True) == "not distinguishable"


def test_curve_summary_intervals_resample_recordings():
    groups = np.repeat(["a", "b"], 6)
    frame = pd.DataFrame({"explainer": "e", "segment_id": [f"s{i}" for i in range(12)], "recording_id": groups,
                          "deletion_auc": np.r_[np.zeros(6), np.ones(6)], "insertion_auc": 0.5,
                          "deletion_gain": 0.0, "insertion_gain": 0.0})
    row = curve_summary(frame, SETTINGS).iloc[0]
    assert row["n"] == 12 and row["n_recordings"] == 2
    assert (row["deletion_auc_lo"], row["deletion_auc_hi"]) == (0.0, 1.0)
