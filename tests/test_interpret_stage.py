"""The interpret and paramspace stage functions on synthetic shards and a briefly trained model."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _learn_fixtures import make_index, train_test_model, write_features

from audiolens.bootstrap import BootstrapSettings
from audiolens.interpret import paramspace_stage, stage
from audiolens.interpret.selection import pick_per_class
from audiolens.models.registry import load_model
from audiolens.tfdata import open_features


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("interp")
    index = make_index(n_classes=3, recordings_per_class=6, segments_per_recording=3)
    feats = write_features(root / "features", index, shape=(32, 24))
    rec = index["source_id"].str.extract(r"_r(\d+)")[0].astype(int)
    split = pd.DataFrame({"segment_id": index["segment_id"],
                          "split": np.select([rec <= 3, rec == 4], ["train", "val"], "test")})
    split.loc[index["augmented"].to_numpy() & (split["split"] != "train").to_numpy(), "split"] = "unused"
    train_test_model(features_dir=feats, split=split, out_dir=root / "models", arch="seed_cnn", width=0.25,
                dense_units=16, epochs=3, batch_size=16, learning_rate=3e-3, seed=0, verbose=0,
                mixed_precision="off", distribute="none")
    return root, open_features(feats), split


def test_run_interpret_writes_everything(trained):
    root, store, split = trained
    model = load_model(root / "models" / "model.keras")
    out = root / "reports_interpret"
    kw = dict(settings=stage.InterpretSettings(
        examples_per_class=1, queries_per_class=1, top_k=3, max_index=30, max_queries=12,
        include_augmented=False, tsne=True, max_filters=8, max_channels=3, cam_layer=None,
        batch_size=16, seed=0, bootstrap=BootstrapSettings(resamples=200, seed=0)))
    summary = stage.run(model=model, store=store, split_df=split, out_dir=out, **kw)
    metric = json.loads((out / "retrieval.json").read_text())
    assert metric["k"] == 3 and metric["n_queries"] == 9 and 0.0 <= metric["precision_at_k"] <= 1.0
    ci = metric["ci95"]["precision_at_k"]  # over the queries' recordings
    assert 0 <= ci["lo"] <= metric["precision_at_k"] <= ci["hi"] <= 1 and 1 <= metric["n_recordings"] <= 9
    ret = pd.read_csv(out / "retrieval.csv")
    assert len(ret) == 9 * 3 and ret["similarity"].between(-1, 1).all()
    # retrieved ids come from non-augmented train rows only
    train_ids = set(split.loc[split.split == "train", "segment_id"])
    assert set(ret["neighbour_id"]) <= train_ids and not ret["neighbour_id"].str.contains("_x1").any()
    assert set(ret["query_id"]) <= set(split.loc[split.split == "test", "segment_id"])
    assert len(list((out / "filters").glob("*.png"))) == summary["n_conv_layers"] == 4
    assert len(list((out / "feature_maps").glob("*.png"))) == 3
    assert sorted(p.name for p in (out / "cam").glob("*.png")) == ["class0.png", "class1.png", "class2.png"]
    assert (out / "retrieval_gallery.png").is_file() and (out / "projection_tsne.png").is_file()
    assert summary["cam"].startswith("not applicable")  # ReLU embedding between GAP and logits
    maps = np.load(out / "cam" / "maps.npz")
    assert maps["Grad-CAM"].shape == (3, 32, 24) and maps["Grad-CAM"].max() <= 1.0
    # same inputs + params -> same numbers
    again = stage.run(model=model, store=store, split_df=split, out_dir=root / "again", **kw)
    assert again["precision_at_k"] == summary["precision_at_k"]
    pd.testing.assert_frame_equal(ret, pd.read_csv(root / "again" / "retrieval.csv"))


def test_run_paramspace_writes_drift_and_robustness(trained):
    root, store, split = trained
    model = load_model(root / "models" / "model.keras")
    out = root / "reports_paramspace"
    summary = paramspace_stage.run(model=model, weights_dir=root / "models" / "weights", store=store,
                             split_df=split, out_dir=out, settings=paramspace_stage.ParamspaceSettings(
                                 reset_bn_stats="recompute", critical_drop=0.05, max_eval=40, bn_samples=32,
                                 max_reset_layers=None, include_augmented=False, batch_size=16, seed=0))
    drift = pd.read_csv(out / "drift.csv")
    assert (drift.loc[drift.epoch == 0, "relative_change"] == 0).all()
    assert summary["epochs"] == drift["epoch"].max() >= 1
    rob = json.loads((out / "robustness.json").read_text())
    names = [r["layer"] for r in rob["layers"]]
    assert names == ["conv1", "conv2", "conv3", "conv4", "embedding", "logits"]
    assert all(r["status_initial"] in ("robust", "inconclusive", "critical") for r in rob["layers"])
    for r in rob["layers"]:      # the drop lies in its own interval; the status follows the interval
        assert r["drop_initial_lo"] - 1e-9 <= r["drop_initial"] <= r["drop_initial_hi"] + 1e-9
        assert (r["status_initial"] == "critical") == (r["drop_initial_lo"] > 0.05)
    # drift to the weights the resets start from (the restored best epoch), not the last saved one
    assert all(r["relative_change_restored"] is not None for r in rob["layers"])
    assert rob["restored_epoch"] is None or 0 <= rob["restored_epoch"] <= summary["epochs"]
    assert (out / "robustness.png").is_file() and (out / "drift.png").is_file()


def test_pick_per_class_reports_missing_classes():
    labels = np.array([0, 0, 1, 1, 1, 0])
    chosen, missing = pick_per_class(labels, np.arange(6), per_class=2, n_classes=3, seed=0)
    assert missing == [2] and set(chosen) == {0, 1}
    assert all(len(v) == 2 and (labels[v] == c).all() for c, v in chosen.items())
