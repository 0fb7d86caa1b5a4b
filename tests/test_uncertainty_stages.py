"""The train_member and uncertainty stage scripts on a tiny synthetic feature set (in-process)."""
from __future__ import annotations

import json
import runpy
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from _learn_fixtures import make_index, train_test_model, write_features
from audiolens.models.registry import load_model
from audiolens.split import split_positions
from audiolens.tfdata import open_features
from audiolens.uncertainty.gate import load_gate

PARAMS = {
    "model": {"arch": "seed_cnn", "width": 0.25, "dense_units": 16, "dropout": 0.5},
    "train": {"epochs": 2, "batch_size": 16, "patience": 2, "seed": 3, "save_epochs": False},
    "uncertainty": {"members": [1], "member_epochs": 1, "mc_samples": 8, "batch_size": 16,
                    "abstain_threshold": 0.5, "abstain_score": "max_prob"},
}


def _stage(repo_root, name, *args, monkeypatch):
    monkeypatch.setattr(sys, "argv", [f"stages/{name}.py", *args])
    runpy.run_path(str(repo_root / "stages" / f"{name}.py"), run_name="__main__")


@pytest.fixture(scope="module")
def project(repo_root, tmp_path_factory):
    d = tmp_path_factory.mktemp("unc")
    index = make_index(n_classes=3, recordings_per_class=5, segments_per_recording=3,
                       augmented_per_recording=0)
    write_features(d / "data/processed/features", index, shape=(32, 24))
    rec = index["recording_id"].str.extract(r"_r(\d+)")[0].astype(int)
    split = pd.DataFrame({"segment_id": index["segment_id"],
                          "split": np.select([rec <= 2, rec == 3], ["train", "val"], "test")})
    (d / "data/processed/split").mkdir(parents=True)
    split.to_csv(d / "data/processed/split/split.csv", index=False)
    (d / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    train_test_model(features_dir=d / "data/processed/features", split=split, out_dir=d / "models",
                **PARAMS["model"], **PARAMS["train"], verbose=0)
    mp = pytest.MonkeyPatch()
    mp.chdir(d)
    try:
        _stage(repo_root, "train_member", "--member", "1", monkeypatch=mp)
        _stage(repo_root, "uncertainty", monkeypatch=mp)
    finally:
        mp.undo()
    return d


def test_member_stage_trains_with_its_own_seed(project):
    meta = json.loads((project / "models/ensemble/1/train_meta.json").read_text())
    member = json.loads((project / "models/ensemble/1/member.json").read_text())
    assert meta["seed"] == 3 + 1000 and member == {**member, "member": 1, "seed": 1003, "epochs": 1}
    assert meta["epochs_run"] == 1
    assert (project / "models/ensemble/1/model.keras").is_file()
    assert (project / "models/ensemble/1/resolved_params.yaml").is_file()
    main = load_model(project / "models/model.keras")
    other = load_model(project / "models/ensemble/1/model.keras")
    w_main, w_other = (m.get_layer("logits").get_weights()[0] for m in (main, other))
    assert not np.allclose(w_main, w_other)


def test_member_stage_refuses_an_unlisted_member(project, repo_root, monkeypatch, capsys):
    monkeypatch.chdir(project)
    with pytest.raises(SystemExit) as exc:
        _stage(repo_root, "train_member", "--member", "7", monkeypatch=monkeypatch)
    assert exc.value.code == 2  # one line, no traceback (runtime.stage_main)
    assert "--member 7 is not in uncertainty.members" in capsys.readouterr().err


def test_uncertainty_reports(project):
    out = project / "reports/uncertainty"
    head = json.loads((out / "metrics.json").read_text())
    assert head["ensemble_size"] == 2 and head["mc_samples"] == 8
    for m in ("single", "mc_dropout", "ensemble"):
        assert 0 <= head[m]["accuracy"] <= 1 and np.isfinite(head[m]["nll"]) and 0 <= head[m]["ece"] <= 1
    cmp = json.loads((out / "comparison.json").read_text())
    assert set(cmp["splits"]) == {"val", "test"} and cmp["mc_layer"] == "head_dropout"
    test = cmp["splits"]["test"]
    assert set(test["methods"]["mc_dropout"]["scores"]) == {"max_prob", "entropy", "mutual_info", "std"}
    vs = pd.read_csv(out / "vs_count.csv")
    t = vs[vs.split == "test"]
    assert t[t.method == "mc_dropout"]["count"].tolist() == list(range(1, 9))
    assert t[t.method == "ensemble"]["count"].tolist() == [1, 2]
    assert t[t.method == "ensemble"]["nll"].iloc[-1] == pytest.approx(head["ensemble"]["nll"])
    # ensemble size 1 = the main model = the single model
    assert t[t.method == "ensemble"]["nll"].iloc[0] == pytest.approx(head["single"]["nll"], rel=1e-4)
    for png in ("hist_uncertainty", "reliability", "risk_coverage", "scatter_mc_dropout",
                "scatter_ensemble", "vs_count"):
        assert (out / f"{png}.png").stat().st_size > 5000
    md = (out / "comparison.md").read_text()
    assert "| mc_dropout | 8 |" in md and "## Abstention" in md
    assert (out / "resolved_params.yaml").is_file()


def test_abstention_file_is_consistent_and_drives_the_gate(project):
    out = project / "reports/uncertainty"
    ab = json.loads((out / "abstain.json").read_text())
    assert ab["method"] == "ensemble" and ab["members"] == [0, 1] and ab["calibrated_on"] == "val"
    preds = pd.read_csv(out / "predictions_test.csv")
    keep = preds["ensemble_max_prob"] >= 0.5
    assert ab["test"]["coverage"] == pytest.approx(keep.mean(), abs=1e-9)
    right = preds["ensemble_pred"] == preds["label_index"]
    if keep.any():
        assert ab["test"]["selective_accuracy"] == pytest.approx(right[keep].mean())
    gate = load_gate(out / "abstain.json", models_dir=project / "models")
    store = open_features(project / "data/processed/features")
    split = pd.read_csv(project / "data/processed/split/split.csv")
    pos = split_positions(store.index, split, "test")
    res = gate.predict(store.get(pos)[..., None])
    np.testing.assert_array_equal(res["predicted"], preds["ensemble_pred"])
    np.testing.assert_array_equal(res["accepted"], keep)
    np.testing.assert_allclose(res["score"], preds["ensemble_max_prob"], atol=1e-5)
    # a threshold inside the score range splits the examples by the documented rule
    gate.config["threshold"] = float(np.median(res["score"]))
    acc2 = gate.predict(store.get(pos)[..., None])["accepted"]
    np.testing.assert_array_equal(acc2, res["score"] >= gate.config["threshold"])
    assert 0 < acc2.sum() < acc2.size
