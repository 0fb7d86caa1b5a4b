"""The UrbanSound8K benchmark's windowing and fold split (no data needed: synthetic clips)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_urbansound", ROOT / "benchmarks" / "urbansound.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _labels(n=6):
    return pd.DataFrame({"filename": [f"c{i}.flac" for i in range(n)], "label": ["a", "b"] * (n // 2),
                         "classID": [0, 1] * (n // 2), "fold": [1, 1, 2, 2, 10, 10], "fsID": [5, 6, 7, 7, 8, 9]})


def test_windows_cover_each_clip_and_stay_in_it(bench, tmp_path):
    sr = 1000
    feats = dict(kind="mel", sample_rate=sr, n_fft=64, hop_length=32, n_mels=8, fmin=0.0, fmax=500.0,
                 top_db=80.0, window_s=2.0, hop_s=0.5)
    labels = _labels()
    lengths = np.array([4000, 4000, 2500, 1000, 3300, 4000])
    clips = np.zeros((6, 4000), np.float32)
    rng = np.random.default_rng(0)
    for i, n in enumerate(lengths):
        clips[i, :n] = rng.normal(size=n)
    db, clip_of, whole = bench.build_store(clips, lengths, labels, feats, tmp_path / "f")
    # 4 s clip, 2 s windows at 0.5 s: starts 0, .5, 1, 1.5, 2 -> 5; 1 s clip -> one padded window
    counts = np.bincount(clip_of, minlength=6)
    assert counts.tolist() == [5, 5, 2, 1, 4, 5]
    assert db.shape[0] == len(clip_of) and whole.shape[0] == 6 and db.shape[2] < whole.shape[2]
    index = pd.read_csv(tmp_path / "f" / "index.csv")
    assert (index["recording_id"].to_numpy() == labels["filename"].to_numpy()[clip_of]).all()
    assert index["segment_id"].is_unique


def test_fold_split_tests_the_fold_and_keeps_sources_together(bench):
    labels = _labels()
    split = bench.fold_split(labels, 2, seed=0, val_fraction=0.5)
    assert (split[labels["fold"] == 2] == "test").all() and not (split[labels["fold"] != 2] == "test").any()
    for _, g in labels.assign(split=split).groupby("fsID"):
        assert g["split"].nunique() == 1
    assert (bench.fold_split(labels, 2, seed=0, val_fraction=0.0) != "val").all()


def test_recipe_overrides_parse_values(bench):
    r = bench.recipe_with(["train.mixup_alpha=0.2", "features.window_s=null", "val_fraction=0"])
    assert r["train"]["mixup_alpha"] == 0.2 and r["features"]["window_s"] is None and r["val_fraction"] == 0
    assert bench.recipe_with([]) == bench.RECIPE  # overrides work on a copy
    with pytest.raises(SystemExit):
        bench.recipe_with(["nosuch.key=1"])


def test_recipe_normalisation_reaches_the_feature_store(bench, tmp_path):
    import json

    feats = dict(kind="mel", sample_rate=1000, n_fft=64, hop_length=32, n_mels=8, fmin=0.0, fmax=500.0,
                 top_db=80.0, window_s=2.0, hop_s=0.5)
    clips, lengths, labels = np.ones((6, 4000), np.float32), np.full(6, 4000), _labels()
    bench.build_store(clips, lengths, labels, feats, tmp_path / "a")
    bench.build_store(clips, lengths, labels, {**feats, "normalise": "dataset"}, tmp_path / "b")
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["normalise"] == "per_sample"
    assert json.loads((tmp_path / "b" / "meta.json").read_text())["normalise"] == "dataset"


def test_members_train_with_the_pipeline_ensemble_seeds(bench):
    from audiolens.uncertainty.members import member_seed

    ts, _ = bench.settings(bench.recipe_with(["members=3"]))
    seeds = [bench.member_settings(ts, i).seed for i in range(3)]
    assert seeds == [member_seed(ts.seed, i) for i in range(3)] == [ts.seed, ts.seed + 1000, ts.seed + 2000]
    assert bench.member_settings(ts, 1).epochs == ts.epochs  # only the seed changes


def test_recipe_pretrained_trunk_resolves_and_builds(bench):
    """The recipe's vendored weights resolve against the repository root, whatever the cwd, and load."""
    from audiolens.models.registry import build_model

    _, ms = bench.settings(bench.RECIPE)
    assert ms.arch == "musicnn_vgg" and Path(ms.weights).is_absolute() and Path(ms.weights).is_file()
    f = bench.RECIPE["features"]
    frames = 1 + int(f["window_s"] * f["sample_rate"]) // f["hop_length"]
    m = build_model(ms, input_shape=(f["n_mels"], frames, 1), n_classes=10, normalise="per_sample", stats=None)
    frozen = [m.get_layer(f"block{i}_conv").trainable for i in range(1, 6)]
    assert frozen == [i > ms.freeze_blocks for i in range(1, 6)]


def test_clip_correct_agrees_with_the_pipeline_scoring_and_intervals_pair(bench):
    """Per-clip correctness (mean window probability) gives evaluate's recording accuracy exactly."""
    from audiolens.evaluation.scoring import fold_metrics

    rng = np.random.default_rng(0)
    clip = np.repeat(np.arange(40), rng.integers(1, 6, 40))
    y = rng.integers(0, 4, 40)
    probs = rng.dirichlet(np.ones(4), size=len(clip))
    ok = bench.clip_correct(probs, clip, y)
    assert ok.shape == (40,)
    assert ok.mean() == pytest.approx(fold_metrics(y[clip], probs, np.array([f"c{i}" for i in clip]))
                                      ["recording_accuracy"], abs=1e-12)
    base = np.where(rng.random(40) < 0.5, ok, 1 - ok)
    ci = bench.intervals(ok, base, sources=np.arange(40) // 2, resamples=200)
    assert ci["cnn"]["value"] == pytest.approx(ok.mean()) and ci["cnn"]["n_recordings"] == 20
    assert ci["difference"]["diff"] == pytest.approx(ok.mean() - base.mean())
    assert ci["difference"]["lo"] <= ci["difference"]["diff"] <= ci["difference"]["hi"]
