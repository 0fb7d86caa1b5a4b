"""Baseline stage: per-band statistics, selection on validation, evaluate-like metrics, CV, the margin."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _learn_fixtures import make_index, write_features
from audiolens.baseline import BaselineSettings, band_statistics, fit_select, run, store_features
from audiolens.errors import ParameterError
from audiolens.evaluation.margin import baseline_margin, margin_sentence
from audiolens.evaluation.operating_point import OperatingPointSettings
from audiolens.evaluation.scoring import split_metrics
from audiolens.shards import FeatureStore
from audiolens.split import cv_fold_names, cv_folds, make_split

REPO = Path(__file__).resolve().parents[1]
EER = OperatingPointSettings(threshold="auto", target_far=None)


def _settings(**kw) -> BaselineSettings:
    base = dict(stats=["mean", "std", "p10", "p50", "p90", "delta"], classifiers=["logreg", "knn1"],
                logreg_c=[0.1, 1.0], max_iter=500, batch_size=7, seed=0, operating_point=EER,
                bootstrap=None)
    return BaselineSettings(**{**base, **kw})


def test_band_statistics_per_band_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 11))
    got = band_statistics(x, ["mean", "std", "min", "max", "p50", "delta"], per_sample=False)
    f = 4
    assert got.shape == (3, 6 * f)
    np.testing.assert_allclose(got[:, :f], x.mean(axis=2))
    np.testing.assert_allclose(got[:, f:2 * f], x.std(axis=2))
    np.testing.assert_allclose(got[:, 2 * f:3 * f], x.min(axis=2))
    np.testing.assert_allclose(got[:, 3 * f:4 * f], x.max(axis=2))
    np.testing.assert_allclose(got[:, 4 * f:5 * f], np.median(x, axis=2))
    np.testing.assert_allclose(got[:, 5 * f:], np.abs(np.diff(x, axis=2)).mean(axis=2))
    # per-sample standardisation (the CNN's input layer) removes a constant dB offset and a scale
    a = band_statistics(x, ["mean", "std"], per_sample=True)
    b = band_statistics(3.0 * x - 40.0, ["mean", "std"], per_sample=True)
    np.testing.assert_allclose(a, b, atol=1e-3)
    with pytest.raises(ParameterError, match="unknown"):
        band_statistics(x, ["kurtosis"], per_sample=False)


def test_streamed_features_equal_the_in_memory_ones(tmp_path):
    idx = make_index(n_classes=2, recordings_per_class=3, augmented_per_recording=0)
    store = FeatureStore(write_features(tmp_path / "f", idx, shard_size=5, normalise="none"))
    rows = np.array([7, 0, 12, 3])
    got = store_features(store, rows, ["mean", "p90"], batch_size=3)
    np.testing.assert_allclose(got, band_statistics(store.get(rows), ["mean", "p90"], per_sample=False))


def _vectorised_reference(x, stats, per_sample):
    """The statistics over all rows at once (the pre-streaming formula), for bitwise comparison."""
    x = np.asarray(x, dtype=np.float64)
    if per_sample:
        mu = x.mean(axis=(1, 2), keepdims=True)
        x = (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=(1, 2), keepdims=True) + 1e-3)
    pct = {"p10": 10, "p50": 50, "p90": 90}
    fns = {"mean": lambda: x.mean(axis=2), "std": lambda: x.std(axis=2), "min": lambda: x.min(axis=2),
           "max": lambda: x.max(axis=2), "delta": lambda: np.abs(np.diff(x, axis=2)).mean(axis=2)}
    return np.concatenate([fns[s]() if s in fns else np.percentile(x, pct[s], axis=2) for s in stats], axis=1)


@pytest.mark.parametrize("per_sample", [True, False])
def test_row_by_row_statistics_are_bitwise_the_vectorised_ones(per_sample):
    from audiolens.baseline import STATS

    x = np.random.default_rng(3).uniform(-80, 0, size=(9, 17, 23)).astype(np.float32)
    np.testing.assert_array_equal(band_statistics(x, STATS, per_sample=per_sample),
                                  _vectorised_reference(x, STATS, per_sample))


def test_band_statistics_working_memory_is_one_spectrogram():
    """Peak allocation: the output plus a few (F, T) float64 copies, not copies of all n rows."""
    import tracemalloc

    from audiolens.baseline import STATS

    x = np.random.default_rng(0).uniform(-80, 0, size=(200, 32, 24)).astype(np.float32)
    tracemalloc.start()
    try:
        out = band_statistics(x, STATS, per_sample=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one = 32 * 24 * 8
    assert peak < out.nbytes + 16 * one  # vectorised: > 4 float64 copies of x = 200 * one each


def test_run_reads_the_shards_one_batch_at_a_time(tmp_path, monkeypatch):
    """The stage streams: no read of more than batch_size spectrograms, each row read once."""
    idx = make_index(n_classes=2, recordings_per_class=6, segments_per_recording=3, augmented_per_recording=0)
    store = FeatureStore(write_features(tmp_path / "f", idx, shard_size=8))
    table = make_split(idx, method="cv", cv_folds=3, predefined_folds=True)
    cv = [(n, t) for n, t in zip(cv_fold_names(table, 3), [table, *(t for _, t in cv_folds(table, 3))])]
    reads: list[int] = []
    real_get = FeatureStore.get
    monkeypatch.setattr(FeatureStore, "get", lambda self, rows: reads.append(len(rows)) or real_get(self, rows))
    streamed = run(settings=_settings(batch_size=4), store=store, split=table, out_dir=tmp_path / "a", cv_splits=cv)
    assert reads and max(reads) <= 4 and sum(reads) == len(idx)
    monkeypatch.setattr(FeatureStore, "get", real_get)
    whole = run(settings=_settings(batch_size=len(idx)), store=store, split=table, out_dir=tmp_path / "b",
                cv_splits=cv)
    assert json.dumps(streamed, sort_keys=True) == json.dumps(whole, sort_keys=True)
    assert (tmp_path / "a/predictions.csv").read_bytes() == (tmp_path / "b/predictions.csv").read_bytes()


def test_selection_uses_validation_not_test():
    """A candidate that is perfect on val wins even when another is better on test."""
    from audiolens.baseline import _Fold

    rng = np.random.default_rng(1)
    # feature 0 separates the classes in train and val; feature 1 is noise
    y_tr, y_val = np.repeat([0, 1], 20), np.repeat([0, 1], 10)
    x_tr = np.c_[y_tr * 4.0 + rng.normal(size=40), rng.normal(size=40)]
    x_val = np.c_[y_val * 4.0 + rng.normal(size=20) * 0.1, rng.normal(size=20)]
    fold = _Fold(x={"train": x_tr, "val": x_val, "test": x_val[:0]}, y={"train": y_tr, "val": y_val,
                                                                         "test": y_val[:0]})
    name, clf, scores = fit_select(_settings(), fold, 2)
    assert set(scores) == {"logreg_C0.1", "logreg_C1", "knn1"}
    best = max(s["val_balanced_accuracy"] for s in scores.values())
    assert scores[name]["val_balanced_accuracy"] == best
    assert list(clf.classes_) == [0, 1]


def test_run_reports_the_evaluate_figures(tmp_path):
    idx = make_index(n_classes=3, recordings_per_class=6, augmented_per_recording=0)
    store = FeatureStore(write_features(tmp_path / "f", idx))
    split = make_split(idx, seed=0)
    m = run(settings=_settings(), store=store, split=split, out_dir=tmp_path / "out")
    on_disk = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert on_disk["best"] == m["best"] and m["best"] in m["candidates"]
    assert m["selected_on"] == "val" and m["features"]["n_features"] == 6 * store.shape[0]
    # the same keys as evaluate's split metrics, computed from the written predictions
    pred = pd.read_csv(tmp_path / "out" / "predictions.csv", dtype={"segment_id": str, "recording_id": str})
    test = split[split["split"] == "test"]
    assert sorted(pred["segment_id"]) == sorted(test["segment_id"])
    probs = pred[[f"prob_class{c}" for c in range(3)]].to_numpy()
    rows = store.index.set_index("segment_id").loc[pred["segment_id"]].reset_index()
    again, _, _ = split_metrics(rows, probs, store.class_names, threshold=0.5)
    for key in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc"):
        assert m[key] == pytest.approx(again[key])
    assert m["recording"]["mean_prob"]["accuracy"] == pytest.approx(again["recording"]["mean_prob"]["accuracy"])
    # the class bands of the fixture are easy: a sane baseline is far above chance
    assert m["accuracy"] > 0.6


def test_cv_reports_each_fold_once_and_mean_std(tmp_path):
    idx = make_index(n_classes=2, recordings_per_class=6, segments_per_recording=2)
    store = FeatureStore(write_features(tmp_path / "f", idx, class_names=["rejected", "allowed"]))
    table = make_split(idx, method="cv", cv_folds=3, predefined_folds=True)
    names = cv_fold_names(table, 3)
    assert names == ["1", "2", "3"]
    cv = [(names[0], table), *((names[i], t) for i, t in cv_folds(table, 3))]
    m = run(settings=_settings(), store=store, split=table, out_dir=tmp_path / "out", cv_splits=cv)
    folds = m["cv"]["folds"]
    assert [f["fold"] for f in folds] == ["1", "2", "3"] and m["cv"]["k"] == 3
    accs = [f["accuracy"] for f in folds]
    assert m["cv"]["accuracy_mean"] == pytest.approx(np.mean(accs))
    assert m["cv"]["accuracy_std"] == pytest.approx(np.std(accs))
    assert all({"recording_accuracy", "eer", "far", "frr", "threshold", "classifier"} <= set(f) for f in folds)


def test_margin_and_the_plain_sentence():
    cnn = {"accuracy": 0.70, "balanced_accuracy": 0.68, "recording": {"mean_prob": {"accuracy": 0.8,
                                                                                    "balanced_accuracy": 0.75}}}
    base = {"best": "knn1", "accuracy": 0.80, "balanced_accuracy": 0.78,
            "recording": {"mean_prob": {"accuracy": 0.9, "balanced_accuracy": 0.85}}}
    m = baseline_margin(cnn, base)
    assert m["accuracy"] == pytest.approx(-0.10) and m["recording_balanced_accuracy"] == pytest.approx(-0.10)
    assert m["cnn_beats_baseline"] == 0 and m["baseline"] == "knn1"
    text = margin_sentence(cnn, m)
    assert "does NOT beat the baseline" in text and "-10.0 points" in text and "80.0 %" in text
    assert "worse on accuracy, balanced accuracy, recording accuracy" in text
    m2 = baseline_margin(base | {"best": None}, cnn | {"best": "logreg_C1"})
    assert m2["cnn_beats_baseline"] == 1 and "The CNN beats the baseline." in margin_sentence(base, m2)
    # better on segments, a tie on recordings: beats, and the tie is named
    tie = base | {"recording": cnn["recording"]}
    m3 = baseline_margin(tie, cnn | {"best": "knn1"})
    assert m3["cnn_beats_baseline"] == 1 and "(a tie on recording accuracy, recording balanced accuracy)" in \
        margin_sentence(tie, m3)
    m4 = baseline_margin(cnn, cnn | {"best": "knn1"})  # the same figures: a tie everywhere
    assert m4["cnn_beats_baseline"] == 0 and "does NOT beat the baseline: they tie" in margin_sentence(cnn, m4)


def test_stage_script_writes_metrics(tmp_path):
    idx = make_index(n_classes=2, recordings_per_class=5, augmented_per_recording=0)
    write_features(tmp_path / "data" / "processed" / "features", idx)
    split_dir = tmp_path / "data" / "processed" / "split"
    split_dir.mkdir(parents=True)
    make_split(idx).to_csv(split_dir / "split.csv", index=False)
    (tmp_path / "params.yaml").write_text("baseline:\n  logreg_c: [1.0]\n")
    res = subprocess.run([sys.executable, str(REPO / "stages" / "baseline.py")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    m = json.loads((tmp_path / "reports" / "baseline" / "metrics.json").read_text())
    assert set(m["candidates"]) == {"logreg_C1", "knn1"} and 0.0 <= m["accuracy"] <= 1.0
    assert (tmp_path / "reports" / "baseline" / "resolved_params.yaml").is_file()


def _pred_table(wrong_recordings, n_rec=20, per_rec=3):
    """A prediction table: recording r is all wrong when r is in ``wrong_recordings``."""
    rec = np.repeat([f"r{i:02d}" for i in range(n_rec)], per_rec)
    y = np.repeat(np.arange(n_rec) % 2, per_rec)
    wrong = np.isin(np.repeat(np.arange(n_rec), per_rec), list(wrong_recordings))
    pred = np.where(wrong, 1 - y, y)
    p1 = np.where(pred == 1, 0.8, 0.2)
    return pd.DataFrame({"segment_id": [f"{r}__{i % per_rec}" for i, r in enumerate(rec)], "recording_id": rec,
                         "true_index": y, "pred_index": pred, "prob_rejected": 1 - p1, "prob_allowed": p1})


def test_paired_margin_interval_and_the_not_distinguishable_wording():
    from audiolens.bootstrap import BootstrapSettings
    from audiolens.evaluation.intervals import paired_margin

    boot = BootstrapSettings(resamples=500, seed=0)
    cnn = _pred_table([])
    close = paired_margin(cnn, _pred_table([3]), boot, 2)  # the baseline misses one recording
    assert close["accuracy"]["diff"] == pytest.approx(3 / 60)
    assert close["accuracy"]["lo"] <= 0 <= close["accuracy"]["hi"] and close["accuracy"]["distinguishable"] == 0
    far = paired_margin(cnn, _pred_table(range(0, 20, 2)), boot, 2)  # misses half the recordings
    assert far["accuracy"]["lo"] > 0 and far["accuracy"]["distinguishable"] == 1
    assert far["recording_accuracy"]["diff"] == pytest.approx(0.5) and far["recording_accuracy"]["lo"] > 0
    # rows are paired by segment id, whatever the order of the baseline's table
    shuffled = paired_margin(cnn, _pred_table([3]).sample(frac=1, random_state=0), boot, 2)
    assert shuffled == close
    cnn_m = {"accuracy": 1.0, "balanced_accuracy": 1.0, "recording": {"mean_prob": {"accuracy": 1.0,
                                                                                    "balanced_accuracy": 1.0}}}
    base_m = {"best": "knn1", "accuracy": 57 / 60, "balanced_accuracy": 57 / 60,
              "recording": {"mean_prob": {"accuracy": 0.95, "balanced_accuracy": 0.95}}}
    m = baseline_margin(cnn_m, base_m, paired=close)
    assert m["cnn_beats_baseline"] == 1 and m["distinguishable"]["accuracy"] == 0
    assert m["ci95"]["accuracy"] == {"lo": close["accuracy"]["lo"], "hi": close["accuracy"]["hi"]}
    text = margin_sentence(cnn_m, m)
    assert "not distinguishable" in text and "95 % interval" in text and "beats the baseline" not in text
    m_far = baseline_margin(cnn_m, base_m | {"accuracy": 0.5}, paired=far)
    assert "The CNN beats the baseline" in margin_sentence(cnn_m, m_far)
