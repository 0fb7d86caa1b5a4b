"""Evaluation: metrics equal scikit-learn's, EER on a constructed score set, aggregation, outputs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from _learn_fixtures import make_index, write_features
from audiolens.bootstrap import BootstrapSettings
from audiolens.evaluation.metrics import (aggregate_recordings, classification_metrics, eer, far_frr, roc_auc,
                                          roc_points)
from audiolens.evaluation.stage import EvaluateSettings, binary_metrics, cv_summary, run

FIXED_HALF = EvaluateSettings(threshold=0.5, target_far=None, gallery_size=5, seed=0,
                              bootstrap=BootstrapSettings(resamples=200, seed=0))


def _fixed(k, n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p


@pytest.mark.parametrize("k", [2, 4])
def test_metrics_equal_sklearn(k):
    y, p = _fixed(k)
    yp = p.argmax(1)
    m = classification_metrics(y, p)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, yp))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, yp))
    for avg in ("macro", "weighted"):
        assert m[f"precision_{avg}"] == pytest.approx(skm.precision_score(y, yp, average=avg, zero_division=0))
        assert m[f"recall_{avg}"] == pytest.approx(skm.recall_score(y, yp, average=avg, zero_division=0))
        assert m[f"f1_{avg}"] == pytest.approx(skm.f1_score(y, yp, average=avg, zero_division=0))
    ref = skm.roc_auc_score(y, p[:, 1]) if k == 2 else skm.roc_auc_score(y, p, multi_class="ovr")
    assert m["roc_auc"] == pytest.approx(ref)
    assert 0.5 < m["accuracy"] < 1.0  # a non-trivial prediction set


def test_roc_auc_skips_absent_classes():
    y, p = _fixed(3)
    keep = y != 2
    auc = roc_auc(y[keep], p[keep])
    ref = np.mean([skm.roc_auc_score(y[keep] == c, p[keep][:, c]) for c in (0, 1)])
    assert auc == pytest.approx(ref)
    assert roc_auc(np.zeros(5, int), np.full((5, 2), 0.5)) is None


def test_eer_on_constructed_scores():
    neg = [0.1, 0.2, 0.3, 0.4, 0.6]
    pos = [0.25, 0.5, 0.7, 0.8, 0.9]
    s = np.array(neg + pos)
    lab = np.array([0] * 5 + [1] * 5, bool)
    e, t = eer(s, lab)
    assert e == pytest.approx(0.2) and t == pytest.approx(0.5)
    assert far_frr(s, lab, t) == pytest.approx((0.2, 0.2))
    assert far_frr(s, lab, 0.95) == (0.0, 1.0) and far_frr(s, lab, 0.0) == (1.0, 0.0)
    # perfectly separated -> 0; interpolated crossing between ROC points
    assert eer(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1], bool))[0] == pytest.approx(0.0)
    e2, _ = eer(np.array([0.1, 0.6, 0.4, 0.9]), np.array([0, 0, 1, 1], bool))
    assert e2 == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both positive and negative"):
        eer(s, np.ones(10, bool))
    b = binary_metrics(s, lab, threshold=0.65)
    assert b["far"] == 0.0 and b["frr"] == pytest.approx(0.4) and b["eer"] == pytest.approx(0.2)


def test_roc_points_binary_and_micro():
    y, p = _fixed(2)
    r = roc_points(y, p)
    assert np.trapezoid(r["tpr"], r["fpr"]) == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    y3, p3 = _fixed(3)
    r3 = roc_points(y3, p3)
    micro = skm.roc_auc_score(np.eye(3)[y3].ravel(), p3.ravel())
    assert np.trapezoid(r3["tpr"], r3["fpr"]) == pytest.approx(micro)


def test_recording_aggregation_mean_vs_vote():
    # recording a: two weak votes for class 1, one very confident class 0 -> vote 1, mean 0
    probs = np.array([[0.45, 0.55], [0.45, 0.55], [0.99, 0.01], [0.2, 0.8], [0.6, 0.4]])
    rec = np.array(["a", "a", "a", "b", "b"])
    ids, mp, mpred = aggregate_recordings(rec, probs, method="mean_prob")
    assert list(ids) == ["a", "b"]
    np.testing.assert_allclose(mp[0], probs[:3].mean(0))
    assert list(mpred) == [0, 1]
    _, votes, vpred = aggregate_recordings(rec, probs, method="majority_vote")
    np.testing.assert_allclose(votes[0], [1 / 3, 2 / 3])
    assert vpred[0] == 1
    assert vpred[1] == 1  # 1-1 tie broken by the higher mean probability (0.6 for class 1)
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate_recordings(rec, probs, method="max")


class _FixedModel:
    """predict() returns stored probabilities in order (stands in for a Keras model)."""

    def __init__(self, probs):
        self.probs = probs
        self.jit_compile = False

    def predict(self, ds, verbose=0):
        n = sum(int(x.shape[0]) for x in ds)
        assert n == len(self.probs)
        return self.probs


def test_evaluate_split_outputs(tmp_path):
    idx = make_index(n_classes=2, recordings_per_class=4, segments_per_recording=3, augmented_per_recording=0)
    store_dir = write_features(tmp_path / "feat", idx, class_names=["rejected", "allowed"])
    from audiolens.tfdata import open_features
    store = open_features(store_dir)
    pos = np.arange(len(idx))
    y = idx["label_index"].to_numpy()
    p = np.where(np.eye(2)[y] > 0, 0.7, 0.3)
    p[[0, 5, 13]] = p[[0, 5, 13]][:, ::-1]  # three wrong, confident
    out = tmp_path / "eval"
    m = run(model=_FixedModel(p), store=store, positions=pos, class_names=["rejected", "allowed"],
                       out_dir=out, settings=FIXED_HALF,
                       history={"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, best_epoch=2)
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["accuracy"] == pytest.approx(1 - 3 / len(idx)) == pytest.approx(m["accuracy"])
    assert set(on_disk["binary"]) >= {"eer", "far", "frr", "threshold", "eer_threshold"}
    assert on_disk["recording"]["mean_prob"]["n"] == 8
    # n and grouped 95 % intervals beside the headline figures (dicts: dvc metrics show drops lists)
    assert on_disk["n"] == len(idx) and on_disk["n_recordings"] == 8
    ci = on_disk["ci95"]
    assert {"accuracy", "balanced_accuracy", "f1_macro", "eer", "far", "frr"} <= set(ci)
    for key in ("accuracy", "balanced_accuracy", "f1_macro", "eer"):
        value = on_disk[key] if key in on_disk else on_disk["binary"][key]
        assert 0 <= ci[key]["lo"] <= value <= ci[key]["hi"] <= 1, key
    assert ci["accuracy"]["hi"] > ci["accuracy"]["lo"]  # three errors in three recordings: not degenerate
    assert set(on_disk["recording"]["mean_prob"]["ci95"]) == {"accuracy", "balanced_accuracy"}
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns[:4]) == ["segment_id", "recording_id", "true", "pred"]
    assert {"prob_rejected", "prob_allowed", "confidence"} <= set(pred.columns)
    assert skm.accuracy_score(pred["true"], pred["pred"]) == pytest.approx(on_disk["accuracy"])
    mis = pd.read_csv(out / "misclassified.csv")
    assert sorted(mis["segment_id"]) == sorted(idx["segment_id"].iloc[[0, 5, 13]])
    conf = pd.read_csv(out / "plots" / "confusion.csv")
    assert len(conf) == len(idx) and list(conf.columns) == ["actual", "predicted"]
    assert np.array(on_disk["confusion_matrix"]).sum() == len(idx)
    report = json.loads((out / "class_report.json").read_text())
    assert report["allowed"]["support"] == (y == 1).sum()
    for png in ("confusion.png", "roc.png", "confidence_strip.png", "gallery_low_confidence.png",
                "gallery_random.png", "learning_curves.png"):
        assert (out / png).stat().st_size > 1000, png


def test_cv_summary_mean_std(tmp_path):
    idx = make_index(n_classes=2, recordings_per_class=3, augmented_per_recording=0)
    from audiolens.tfdata import open_features
    store = open_features(write_features(tmp_path / "f", idx))
    y = idx["label_index"].to_numpy()
    perfect = np.eye(2)[y] * 0.8 + 0.1
    folds = [(_FixedModel(perfect[:6]), np.arange(6)), (_FixedModel(perfect[6:12][:, ::-1]), np.arange(6, 12))]
    s = cv_summary(folds, store=store)
    assert s["k"] == 2 and s["accuracy_mean"] == pytest.approx(0.5) and s["accuracy_std"] == pytest.approx(0.5)
    assert [f["accuracy"] for f in s["folds"]] == [1.0, 0.0]
