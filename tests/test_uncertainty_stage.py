"""uncertainty stage (run) edge cases: ensemble without the main model, no validation split, bad input."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from audiolens.bootstrap import BootstrapSettings
from audiolens.config import parse_params, to_settings
from audiolens.uncertainty.stage import UncertaintySettings, run


def model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 5, 1))
    x = keras.layers.Flatten()(inp)
    x = keras.layers.Dense(12, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(0.5, name="head_dropout")(x)
    x = keras.layers.Dense(3, name="logits")(x)
    return keras.Model(inp, keras.layers.Activation("softmax", name="probs")(x))


def split(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return ([f"s{seed}_{i}" for i in range(n)], rng.normal(size=(n, 6, 5, 1)).astype("float32"),
            rng.integers(0, 3, n))


KW = dict(class_names=["a", "b", "c"], settings=to_settings(parse_params({"uncertainty": dict(
    mc_samples=4, ece_bins=15, batch_size=8, abstain_method="ensemble", abstain_score="entropy",
    abstain_threshold=1.0, abstain_target_accuracy=0.9)}).uncertainty, UncertaintySettings,
    bootstrap=BootstrapSettings(resamples=200, seed=0)))


def test_ensemble_without_main_and_no_validation(tmp_path):
    models = {0: model(0), 1: model(1), 2: model(2)}
    head = run(models=models, ensemble_ids=[1, 2], out_dir=tmp_path,
                           splits={"val": split(0, 1), "test": split(20, 2)}, **KW)
    assert head["ensemble_size"] == 2
    ab = json.loads((tmp_path / "abstain.json").read_text())
    assert ab["members"] == [1, 2] and ab["calibrated_on"] == "test" and "val" not in ab
    assert ab["rule"] == "accept if entropy <= threshold"
    cmp = json.loads((tmp_path / "comparison.json").read_text())
    assert set(cmp["splits"]) == {"test"}
    # the ensemble of members 1 and 2 is not the main model: its predictions differ from "single"
    assert head["ensemble"]["nll"] != pytest.approx(head["single"]["nll"])


def test_intervals_differences_members_and_gate_evidence(tmp_path):
    models = {0: model(0), 1: model(1), 2: model(2), 3: model(3)}
    ids, x, y = split(30, 2)
    groups = np.repeat([f"r{i}" for i in range(10)], 3)  # 10 recordings of 3 segments
    head = run(models=models, ensemble_ids=[0, 1, 2, 3], out_dir=tmp_path,
               splits={"val": split(12, 1), "test": (ids, x, y, groups)}, **KW)
    assert head["n"] == 30 and head["n_recordings"] == 10
    for m in ("single", "mc_dropout", "ensemble"):
        ci = head[m]["ci95"]
        assert {"accuracy", "nll", "brier", "ece", "ece_debiased", "aurc_max_prob"} <= set(ci)
        for k in ("accuracy", "nll", "brier", "ece"):
            assert ci[k]["lo"] <= head[m][k] <= ci[k]["hi"], (m, k)
        assert "ece_adaptive" in head[m] and "ece_debiased" in head[m]
    d = head["differences"]["ensemble_minus_single"]["nll"]
    assert d["diff"] == pytest.approx(head["ensemble"]["nll"] - head["single"]["nll"])
    assert d["distinguishable"] == int(d["lo"] > 0 or d["hi"] < 0)
    cmp = json.loads((tmp_path / "comparison.json").read_text())
    assert [r["member"] for r in cmp["members"]["val"]] == [0, 1, 2, 3] and set(cmp["members"]) >= {"test", "outliers"}
    assert "ci95" in cmp["splits"]["test"]["methods"]["ensemble"]["scores"]["entropy"]
    ev = json.loads((tmp_path / "abstain.json").read_text())["evidence"]
    assert set(ev) == {"single", "mc_dropout", "ensemble"} and ev["ensemble"]["n"] == 12
    md = (tmp_path / "comparison.md").read_text()
    assert "Ensemble members alone" in md and "**ensemble** (used)" in md and "Differences between methods" in md
    assert "Method comparison" in (tmp_path / "headline.md").read_text()


def test_run_uncertainty_refuses_missing_models_and_empty_test(tmp_path):
    with pytest.raises(ValueError, match="main model"):
        run(models={1: model(1)}, ensemble_ids=[1], out_dir=tmp_path,
                        splits={"test": split(5, 0)}, **KW)
    with pytest.raises(ValueError, match=r"members \[3\] have no model"):
        run(models={0: model(0)}, ensemble_ids=[0, 3], out_dir=tmp_path,
                        splits={"test": split(5, 0)}, **KW)
    with pytest.raises(ValueError, match="test split is empty"):
        run(models={0: model(0)}, ensemble_ids=[0], out_dir=tmp_path,
                        splits={"val": split(5, 0), "test": split(0, 1)}, **KW)
