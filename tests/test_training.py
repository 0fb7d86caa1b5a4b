"""Training: train_model outputs, seeding, early stopping restore, class weights, data stream, mirrored."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from _learn_fixtures import make_index, train_test_model, write_features
from conftest import needs_fp16_onednn
from audiolens.split import make_split
from audiolens.tfdata import BatchStream, dataset_stats, open_features, spec_augment
from audiolens.split import split_positions
from audiolens.distribution import resolve_strategy
from audiolens.training import sample_weights

FAST = dict(epochs=3, batch_size=8, verbose=0, width=0.25, dense_units=16, augmented_weight=1.0)


@pytest.fixture(scope="module")
def feats(tmp_path_factory):
    idx = make_index()
    root = write_features(tmp_path_factory.mktemp("feat"), idx)
    return root, make_split(idx)


@pytest.fixture(scope="module")
def trained(feats, tmp_path_factory):
    root, split = feats
    out = tmp_path_factory.mktemp("models")
    live = out / "live"
    model, meta = train_test_model(features_dir=root, split=split, out_dir=out, live_dir=live, seed=3, **FAST)
    return model, meta, out, live


def test_train_model_writes_contract_outputs(trained, feats):
    model, meta, out, live = trained
    assert (out / "model.keras").is_file() and (out / "weights" / "initial.weights.h5").is_file()
    epochs = sorted(p.name for p in (out / "weights").glob("epoch_*.weights.h5"))
    assert epochs == [f"epoch_{i:03d}.weights.h5" for i in range(1, meta["epochs_run"] + 1)]
    on_disk = json.loads((out / "train_meta.json").read_text())
    assert on_disk["class_names"] == ["class0", "class1", "class2"]
    assert on_disk["input_shape"] == [32, 24, 1] and on_disk["normalise"] == "per_sample"
    assert len(on_disk["history"]["val_loss"]) == meta["epochs_run"] == len(meta["timings"]["epoch_s"])
    assert "timings" not in on_disk  # run-to-run noise stays out of the model folder
    # augmented copies of training groups train; none of val/test groups do
    assert on_disk["n_train"] == int((feats[1]["split"] == "train").sum())
    # DVCLive learning curves (declared as top-level dvc plots)
    for sub in ("train/loss.tsv", "eval/loss.tsv", "train/accuracy.tsv"):
        lines = (live / "plots" / "metrics" / sub).read_text().splitlines()
        assert len(lines) == meta["epochs_run"] + 1
    assert "eval" in json.loads((live / "metrics.json").read_text())
    n_aug = int(feats[1].query("split == 'train'")["augmented"].sum())
    assert on_disk["n_train_augmented"] == n_aug > 0 and on_disk["augmented_weight"] == 1.0


def test_model_learns_and_reloads(trained, feats):
    from audiolens.models.predict import predict_store
    from audiolens.models.registry import load_model

    model, meta, out, _ = trained
    store = open_features(feats[0])
    pos = split_positions(store.index, feats[1], "test")
    p = predict_store(model, store, pos, batch_size=64)
    y = store.index["label_index"].to_numpy()[pos]
    assert (p.argmax(1) == y).mean() >= 0.8  # the synthetic bands are easy
    np.testing.assert_allclose(predict_store(load_model(out / "model.keras"), store, pos, batch_size=64), p, atol=1e-5)


def test_best_weights_are_restored(trained, feats):
    import keras

    model, meta, out, _ = trained
    best = meta["best_epoch"]
    assert meta["history"]["val_loss"][best - 1] == min(meta["history"]["val_loss"])
    clone = keras.models.clone_model(model)
    clone.load_weights(out / "weights" / f"epoch_{best:03d}.weights.h5")
    for a, b in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    clone.load_weights(out / "weights" / "initial.weights.h5")
    assert not all(np.array_equal(a, b) for a, b in zip(clone.get_weights(), model.get_weights()))


def test_same_seed_same_run(feats, trained, tmp_path):
    _, meta, _, _ = trained
    _, again = train_test_model(features_dir=feats[0], split=feats[1], out_dir=tmp_path, seed=3, **FAST)
    assert again["history"]["loss"] == meta["history"]["loss"]
    _, other = train_test_model(features_dir=feats[0], split=feats[1], out_dir=tmp_path / "o", seed=4, **FAST)
    assert other["history"]["loss"] != meta["history"]["loss"]


def test_dataset_normalisation_stats(feats, tmp_path):
    root, split = feats
    store = open_features(root)
    pos = split_positions(store.index, split, "train")
    stats = dataset_stats(store, pos, batch=7)
    x = store.get(pos).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], x.mean(axis=(0, 2)), rtol=1e-9)
    np.testing.assert_allclose(stats["std"], x.std(axis=(0, 2)), rtol=1e-6)
    root = write_features(tmp_path / "f", make_index(), normalise="dataset")
    model, meta = train_test_model(features_dir=root, split=split, out_dir=tmp_path / "m", **{**FAST, "epochs": 1})
    assert meta["normalise"] == "dataset" and meta["norm_stats"]["mean"] == stats["mean"]
    assert model.get_layer("normalise").mean == stats["mean"]


def test_sample_weights_balance_classes_and_discount_augmented():
    y = np.array([0] * 10 + [1] * 3 + [2] * 7)
    no_aug = np.zeros(len(y), bool)
    w = sample_weights(y, no_aug, 3, class_weight="balanced", augmented_weight=1.0)  # = scikit-learn's
    ref = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(w, ref[y], rtol=1e-6)
    np.testing.assert_allclose(sample_weights(y, no_aug, 3, class_weight="none", augmented_weight=1.0), 1.0)
    # class 1: 3 originals + 9 augmented copies at weight 0.5
    y2 = np.array([0] * 10 + [1] * 12)
    aug = np.array([False] * 13 + [True] * 9)
    w2 = sample_weights(y2, aug, 2, class_weight="balanced", augmented_weight=0.5)
    assert w2.mean() == pytest.approx(1.0)
    assert w2[y2 == 0].sum() == pytest.approx(w2[y2 == 1].sum())  # classes weigh the same
    assert w2[13] == pytest.approx(0.5 * w2[12])  # an augmented copy counts half an original
    assert w2[aug].sum() == pytest.approx(1.5 * w2[10:13].sum())


def test_batch_stream_reshuffles_and_covers(feats):
    store = open_features(feats[0])
    pos = np.arange(len(store.index))
    y = store.index["label_index"].to_numpy()
    s = BatchStream(store, pos, y, batch_size=8, shuffle=True, seed=5)
    epochs = [np.concatenate([b[1] for b in s()]) for _ in range(2)]
    assert len(s) == int(np.ceil(len(pos) / 8))
    for e in epochs:
        assert np.array_equal(np.sort(e), np.sort(y))
    assert not np.array_equal(epochs[0], epochs[1])
    s2 = BatchStream(store, pos, y, batch_size=8, shuffle=True, seed=5)
    assert np.array_equal(np.concatenate([b[1] for b in s2()]), epochs[0])
    xb, yb = next(BatchStream(store, pos, y, batch_size=4, shuffle=False)())
    np.testing.assert_array_equal(xb[..., 0], store.get(pos[:4]))


def test_spec_augment_masks_bands():
    rng = np.random.default_rng(0)
    x = rng.uniform(-80, 0, size=(4, 20, 30)).astype(np.float32)
    fill = x.mean(axis=(1, 2))
    y = spec_augment(x.copy(), np.random.default_rng(1), freq_masks=1, time_masks=1, max_freq=0.3, max_time=0.3)
    changed = y != x
    assert changed.any()
    for i in range(4):
        assert np.allclose(y[i][changed[i]], fill[i])
        rows, cols = changed[i].all(axis=1), changed[i].all(axis=0)
        assert changed[i].sum() == pytest.approx(rows.sum() * 30 + cols.sum() * 20 - rows.sum() * cols.sum())


def test_unknown_split_ids_and_empty_train_fail(feats, tmp_path):
    root, split = feats
    bad = split.copy()
    bad.loc[0, "segment_id"] = "nope__0"
    with pytest.raises(ValueError, match="not in the features index"):
        train_test_model(features_dir=root, split=bad, out_dir=tmp_path, **FAST)
    with pytest.raises(ValueError, match="no 'train' rows"):
        train_test_model(features_dir=root, split=split.assign(split="test"), out_dir=tmp_path, **FAST)


def test_strategy_resolution_on_cpu():
    assert resolve_strategy("auto").num_replicas_in_sync == 1
    assert resolve_strategy("none").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="distribute: unknown"):
        resolve_strategy("tpu")


MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[3])
    from _learn_fixtures import make_index, train_test_model, write_features
    from audiolens.split import make_split
    from _learn_fixtures import train_test_model
    idx = make_index()
    root = write_features(sys.argv[1], idx)
    model, meta = train_test_model(features_dir=root, split=make_split(idx), out_dir=sys.argv[2], distribute="mirrored",
                              epochs=2, batch_size=4, verbose=0, width=0.25, dense_units=16)
    print(json.dumps({"replicas": meta["replicas"], "loss": meta["history"]["loss"]}))
""")


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    res = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path / "f"), str(tmp_path / "m"),
                          str(Path(__file__).parent)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    assert all(np.isfinite(out["loss"])) and out["loss"][-1] < out["loss"][0]
    assert (tmp_path / "m" / "model.keras").is_file()


def test_batch_stream_equal_replica_shares(feats):
    store = open_features(feats[0])
    pos = np.arange(11)
    s = BatchStream(store, pos, np.zeros(11), batch_size=4, shuffle=False, multiple_of=2)
    sizes = [len(b[1]) for b in s()]
    assert sizes == [4, 4, 2] and len(s) == 3 and s.n_used == 10
    with pytest.raises(ValueError, match="not a multiple of 2"):
        BatchStream(store, pos, np.zeros(11), batch_size=5, shuffle=False, multiple_of=2)


@needs_fp16_onednn
def test_mixed_precision_on_keeps_float32_outputs_and_restores_policy(feats, tmp_path):
    import keras

    model, meta = train_test_model(features_dir=feats[0], split=feats[1], out_dir=tmp_path, mixed_precision="on",
                              **{**FAST, "epochs": 1})
    assert meta["mixed_precision"] is True
    assert model.get_layer("conv1").dtype_policy.name == "mixed_float16"
    assert model.get_layer("conv1").compute_dtype == "float16"
    assert model.get_layer("logits").compute_dtype == "float32" and model.output.dtype == "float32"
    assert np.isfinite(meta["history"]["loss"]).all()
    assert keras.mixed_precision.dtype_policy().name == "float32"  # global policy restored
    # auto = off without a GPU (this CPU build); SpecAugment batches train too
    # the whole recipe at once trains; min_epochs holds training although patience is 1
    _, meta2 = train_test_model(features_dir=feats[0], split=feats[1], out_dir=tmp_path / "b", specaugment=True,
                                mixup_alpha=0.4, gain_db=3.0, shift_frames=2, label_smoothing=0.1,
                                lr_schedule="cosine", warmup_epochs=1, patience=1, min_epochs=3,
                                monitor="val_accuracy", monitor_smoothing=0.5, **{**FAST, "epochs": 3})
    assert meta2["mixed_precision"] is False and np.isfinite(meta2["history"]["loss"]).all()
    assert meta2["epochs_run"] == 3 and len(meta2["monitor_smoothed"]) == 3


def test_cross_validation_flow(tmp_path):
    """split.method cv -> one model per arrangement (test i, val i+1) -> mean ± std metrics."""
    from audiolens.evaluation.stage import cv_summary
    from audiolens.split import cv_folds

    idx = make_index(n_classes=2, recordings_per_class=6, segments_per_recording=2)
    root = write_features(tmp_path / "f", idx)
    table = make_split(idx, method="cv", cv_folds=3)
    store = open_features(root)
    folds, tested = [], []
    for i, arr in [(0, table), *cv_folds(table, 3)]:
        model, meta = train_test_model(features_dir=root, split=arr, out_dir=tmp_path / str(i),
                                  **{**FAST, "epochs": 2, "save_epochs": False})
        pos = split_positions(store.index, arr, "test")
        assert meta["n_train"] == int((arr["split"] == "train").sum())
        folds.append((model, pos))
        tested.extend(store.index["segment_id"].iloc[pos])
    orig = idx.loc[~idx["augmented"], "segment_id"]
    assert sorted(tested) == sorted(orig)  # every original segment is tested exactly once
    s = cv_summary(folds, store=store)
    assert s["k"] == 3 and len(s["folds"]) == 3
    accs = [f["accuracy"] for f in s["folds"]]
    assert s["accuracy_mean"] == pytest.approx(np.mean(accs)) and s["accuracy_std"] == pytest.approx(np.std(accs))
