"""The gate's operating point: picked on validation at the EER or at a target FAR; fixed thresholds still work."""
from __future__ import annotations

import json

import numpy as np
import pytest

from _learn_fixtures import make_index, write_features
from audiolens.evaluation.metrics import eer, far_frr
from audiolens.evaluation.operating_point import (OperatingPointSettings, eer_threshold, pick_threshold,
                                                  threshold_at_far)

# 4 negatives, 4 positives: for 0.4 < t <= 0.6 one negative (0.6) is accepted and one positive (0.4)
# rejected: FAR = FRR = 25 % (the EER), and the middle of that range is 0.5
NEG = [0.1, 0.2, 0.3, 0.6]
POS = [0.4, 0.7, 0.8, 0.9]
SCORES = np.array(NEG + POS)
IS_POS = np.array([False] * 4 + [True] * 4)


def test_auto_picks_the_eer_point():
    op = pick_threshold(OperatingPointSettings(threshold="auto", target_far=None), SCORES, IS_POS)
    assert op["method"] == "eer" and op["chosen_on"] == "validation"
    assert op["threshold"] == pytest.approx(0.5)
    assert op["val_far"] == op["val_frr"] == pytest.approx(0.25) == op["val_eer"]
    assert far_frr(SCORES, IS_POS, op["threshold"]) == (0.25, 0.25)
    # separable scores: FAR = FRR = 0 between the highest negative and the lowest positive
    sep = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    op = pick_threshold(OperatingPointSettings(threshold="auto", target_far=None), sep, sep > 0.5)
    assert op["threshold"] == pytest.approx(0.55) and op["val_eer"] == 0.0
    # no exact crossing (FAR jumps over FRR): the interpolated ROC crossing of metrics.eer
    odd = np.array([0.1, 0.5, 0.3, 0.6, 0.7])
    e, t = eer_threshold(odd, np.array([False, False, True, True, True]))
    assert (e, t) == eer(odd, np.array([False, False, True, True, True]))


def test_auto_picks_the_target_far_point():
    rng = np.random.default_rng(0)
    neg, pos = rng.normal(0.3, 0.15, 200), rng.normal(0.7, 0.15, 200)
    scores, is_pos = np.r_[neg, pos], np.r_[np.zeros(200, bool), np.ones(200, bool)]
    op = pick_threshold(OperatingPointSettings(threshold="auto", target_far=0.05), scores, is_pos)
    t = op["threshold"]
    assert op["method"] == "target_far" and (neg >= t).mean() <= 0.05
    # the lowest such threshold: the next lower score would exceed the target FAR
    lower = np.max(scores[scores < t])
    assert (neg >= lower).mean() > 0.05
    assert op["val_far"] == pytest.approx((neg >= t).mean()) and op["val_frr"] == pytest.approx((pos < t).mean())
    # on the small set: FAR <= 25 % may accept the negative 0.6, so every positive (0.4 up) passes;
    # FAR <= 10 % must reject 0.6: the lowest score above it is 0.7
    assert threshold_at_far(SCORES, IS_POS, 0.25) == pytest.approx(0.4)
    assert threshold_at_far(SCORES, IS_POS, 0.10) == pytest.approx(0.7)


def test_fixed_and_fallback_thresholds():
    op = pick_threshold(OperatingPointSettings(threshold=0.3, target_far=None), SCORES, IS_POS)
    assert op["threshold"] == 0.3 and op["method"] == "fixed" and op["val_far"] == pytest.approx(0.5)
    op = pick_threshold(OperatingPointSettings(threshold="auto", target_far=None), SCORES[:4], IS_POS[:4])
    assert op["method"] == "default" and op["threshold"] == 0.5 and "no validation" in op["description"]


def test_evaluate_writes_the_validation_threshold(tmp_path, monkeypatch):
    from audiolens.evaluation import stage
    from audiolens.tfdata import open_features

    idx = make_index(n_classes=2, recordings_per_class=4, segments_per_recording=2, augmented_per_recording=0)
    store = open_features(write_features(tmp_path / "f", idx, class_names=["rejected", "allowed"]))
    y = idx["label_index"].to_numpy()
    rng = np.random.default_rng(3)
    p1 = np.clip(0.35 + 0.3 * y + rng.normal(0, 0.15, len(y)), 0.01, 0.99)
    probs = np.c_[1 - p1, p1]
    monkeypatch.setattr(stage, "predict_store", lambda model, store, pos, batch_size: probs[np.asarray(pos)])
    val, test = np.arange(0, 16, 2), np.arange(1, 16, 2)  # both classes in each
    settings = stage.EvaluateSettings(threshold="auto", target_far=None, gallery_size=0, seed=0, bootstrap=None)
    m = stage.run(model=None, store=store, positions=test, val_positions=val,
                  class_names=["rejected", "allowed"], out_dir=tmp_path / "eval", settings=settings)
    op = json.loads((tmp_path / "eval" / "threshold.json").read_text())
    want = pick_threshold(settings.operating_point, p1[val], y[val] == 1)["threshold"]
    assert op["threshold"] == pytest.approx(want) and op["method"] == "eer" and op["positive_class"] == "allowed"
    assert m["binary"]["threshold"] == pytest.approx(want)
    assert (m["binary"]["far"], m["binary"]["frr"]) == far_frr(p1[test], y[test] == 1, want)
    assert m["operating_point"]["description"].startswith("threshold")


def test_cv_folds_pick_their_threshold_on_their_own_validation(tmp_path, monkeypatch):
    from audiolens.evaluation import stage
    from audiolens.tfdata import open_features

    idx = make_index(n_classes=2, recordings_per_class=6, segments_per_recording=1, augmented_per_recording=0)
    store = open_features(write_features(tmp_path / "f", idx, class_names=["rejected", "allowed"]))
    y = idx["label_index"].to_numpy()
    p1 = np.where(y == 1, 0.6, 0.2) + np.linspace(0, 0.1, len(y))
    monkeypatch.setattr(stage, "predict_store",
                        lambda model, store, pos, batch_size: np.c_[1 - p1, p1][np.asarray(pos)])
    both = lambda a, b: np.r_[a, b]  # noqa: E731  (one recording of each class)
    folds = [(None, both(0, 6), both(1, 7)), (None, both(1, 7), both(2, 8)), (None, both(2, 8), both(0, 6))]
    eer_op = OperatingPointSettings(threshold="auto", target_far=None)
    s = stage.cv_summary(folds, store=store, settings=eer_op, names=["1", "2", "10"])
    assert [f["fold"] for f in s["folds"]] == ["1", "2", "10"]
    for f, (_, _, val) in zip(s["folds"], folds):
        assert f["threshold"] == pytest.approx(pick_threshold(eer_op, p1[val], y[val] == 1)["threshold"])
    assert s["threshold_mean"] == pytest.approx(np.mean([f["threshold"] for f in s["folds"]]))
    assert {"far_mean", "frr_mean", "recording_accuracy_mean", "eer_mean"} <= set(s)
