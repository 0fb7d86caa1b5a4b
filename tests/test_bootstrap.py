"""The grouped bootstrap against closed forms, its grouping, its determinism; the small-n ECE estimates."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from audiolens.bootstrap import (BootstrapSettings, GroupBootstrap, bootstrap_ci, bootstrap_difference,
                                 confusion_scores, difference, interval, plan)
from audiolens.uncertainty.metrics import ece_adaptive, ece_debiased, ece_mce


def _wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_accuracy_interval_matches_the_binomial_interval_for_independent_recordings():
    # 400 recordings of one segment each, 300 right: the bootstrap is the binomial case
    correct = np.r_[np.ones(300), np.zeros(100)]
    rng = np.random.default_rng(1)
    correct = correct[rng.permutation(400)]
    boot = GroupBootstrap(np.arange(400), resamples=4000, seed=0)
    ci = interval(boot.mean(correct))
    lo, hi = _wilson(300, 400)
    normal = 0.75 + np.array([-1, 1]) * 1.959964 * np.sqrt(0.75 * 0.25 / 400)
    assert abs(ci["lo"] - lo) < 0.01 and abs(ci["hi"] - hi) < 0.01, (ci, lo, hi)
    assert abs(ci["lo"] - normal[0]) < 0.01 and abs(ci["hi"] - normal[1]) < 0.01
    # and the high-level call says the same, with its n
    out = bootstrap_ci(np.mean, correct, groups=np.arange(400), settings=BootstrapSettings(resamples=2000, seed=0))
    assert out["value"] == 0.75 and out["n"] == 400 and out["n_recordings"] == 400
    assert abs(out["ci95"]["lo"] - lo) < 0.01 and abs(out["ci95"]["hi"] - hi) < 0.01


def test_groups_are_resampled_whole_and_correlated_segments_widen_the_interval():
    # 40 recordings x 10 segments; a recording is all right or all wrong
    rec_right = np.r_[np.ones(30), np.zeros(10)]
    correct = np.repeat(rec_right, 10)
    groups = np.repeat([f"r{i:02d}" for i in range(40)], 10)
    boot = GroupBootstrap(groups, resamples=2000, seed=3)
    # every resample takes each recording's segments together (multiplicity constant within a group)
    w = boot.weights.reshape(2000, 40, 10)
    assert (w == w[:, :, :1]).all() and (w.sum(axis=(1, 2)) == 400).all()
    grouped = interval(boot.mean(correct))
    flat = interval(GroupBootstrap(np.arange(400), resamples=2000, seed=3).mean(correct))
    width_g, width_f = grouped["hi"] - grouped["lo"], flat["hi"] - flat["lo"]
    assert width_g > 2 * width_f, (grouped, flat)  # ~ sqrt(10) wider: 40 independent units, not 400
    lo, hi = _wilson(30, 40)
    assert abs(grouped["lo"] - lo) < 0.05 and abs(grouped["hi"] - hi) < 0.05


def test_same_seed_same_intervals_other_seed_other_draws():
    g = np.repeat(np.arange(12), 3)
    a, b = GroupBootstrap(g, resamples=200, seed=7), GroupBootstrap(g, resamples=200, seed=7)
    assert np.array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, GroupBootstrap(g, resamples=200, seed=8).weights)
    vals = np.random.default_rng(0).random(36)
    assert interval(a.mean(vals)) == interval(b.mean(vals))
    assert plan(g, BootstrapSettings(resamples=0, seed=0)) is None and plan(g, None) is None


def test_confusion_scores_equal_sklearn_on_every_resample():
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
    pred[:30] = y[:30]
    boot = GroupBootstrap(np.repeat(np.arange(20), 3), resamples=25, seed=1)
    got = confusion_scores(boot, y, pred, 3)
    for b in range(25):
        i = boot.indices(b)
        assert got["accuracy"][b] == pytest.approx(skm.accuracy_score(y[i], pred[i]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a class absent from a resample's labels
            bal = skm.balanced_accuracy_score(y[i], pred[i])
        assert got["balanced_accuracy"][b] == pytest.approx(bal)
        assert got["f1_macro"][b] == pytest.approx(skm.f1_score(y[i], pred[i], labels=[0, 1, 2], average="macro",
                                                               zero_division=0))


def test_apply_leaves_undefined_resamples_out_and_paired_difference():
    groups = np.arange(30)
    wrong = np.zeros(30, bool)
    wrong[0] = True  # one error: many resamples hold none -> AUROC undefined there
    score = np.linspace(0, 1, 30)[::-1]
    boot = GroupBootstrap(groups, resamples=500, seed=0)

    def auroc(s, w):
        return None if w.all() or not w.any() else skm.roc_auc_score(w, s)

    dist = boot.apply(auroc, score, wrong)
    assert np.isnan(dist).any() and np.isfinite(dist).any()
    # paired: a metric against itself plus a constant is distinguishable, against itself not
    a = boot.mean(score)
    assert difference(0.6, 0.5, a + 0.1, a)["distinguishable"] == 1
    same = difference(0.5, 0.5, a, a)
    assert same["diff"] == 0 and same["distinguishable"] == 0 and same["lo"] == same["hi"] == 0
    noisy = difference(0.51, 0.5, a + 0.01, a[::-1])
    assert noisy["lo"] < 0 < noisy["hi"] and noisy["distinguishable"] == 0
    assert difference(None, 0.5, a, a) == {"diff": None, "lo": None, "hi": None, "distinguishable": 0}


def _calibrated(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """A perfectly calibrated binary sample: confidence c ~ U(0.6, 1), right with probability c."""
    conf = rng.uniform(0.6, 1.0, n)
    right = rng.random(n) < conf
    p1 = np.where(right, conf, 1 - conf)
    return np.stack([1 - p1, p1], axis=1), np.ones(n, dtype=int)


def test_adaptive_and_debiased_ece_near_zero_on_a_large_calibrated_sample():
    probs, y = _calibrated(20000, np.random.default_rng(0))
    assert ece_adaptive(probs, y, bins=15) < 0.02
    assert ece_debiased(probs, y, bins=15) < 0.02
    # a miscalibrated copy (confidence inflated) is not near zero
    over = probs.copy()
    over[:, 1] = np.clip(over[:, 1] + 0.1 * np.sign(over[:, 1] - 0.5), 0, 1)
    over[:, 0] = 1 - over[:, 1]
    assert ece_adaptive(over, y, bins=15) > 0.05 and ece_debiased(over, y, bins=15) > 0.05


def test_debiased_ece_is_less_biased_than_the_classic_at_small_n():
    rng = np.random.default_rng(0)
    classic, debiased = [], []
    for _ in range(300):
        probs, y = _calibrated(46, rng)  # the demo's test size; the true calibration error is 0
        classic.append(ece_mce(probs, y, bins=15)[0])
        debiased.append(ece_debiased(probs, y, bins=15))
    # measured: classic ~0.105, debiased ~0.053
    assert np.mean(debiased) < 0.7 * np.mean(classic), (np.mean(debiased), np.mean(classic))


def test_bootstrap_difference_for_other_stages():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(15), 2)
    control = rng.random(30)
    better = control + 0.2 + 0.01 * rng.standard_normal(30)  # e.g. an explainer vs the random-mask control
    s = BootstrapSettings(resamples=300, seed=0)
    d = bootstrap_difference(np.mean, [better], [control], groups=groups, settings=s)
    assert d["diff"] == pytest.approx(np.mean(better) - np.mean(control))
    assert d["lo"] > 0.15 and d["distinguishable"] == 1 and d["n"] == 30 and d["n_recordings"] == 15
    same = bootstrap_difference(np.mean, [control], [control[::-1].copy()], groups=groups, settings=s)
    assert same["lo"] < 0 < same["hi"] and same["distinguishable"] == 0
    off = bootstrap_difference(np.mean, [better], [control], groups=groups, settings=None)
    assert off["lo"] is None and off["diff"] == pytest.approx(d["diff"])


def test_adaptive_and_debiased_ece_by_hand():
    # confidences 0.6, 0.7, 0.8, 0.9 (class 1), right on the 2nd, 3rd, 4th; two equal-mass bins
    conf = np.array([0.6, 0.7, 0.8, 0.9])
    probs = np.stack([1 - conf, conf], axis=1)
    y = np.array([0, 1, 1, 1])
    # bins {0.6, 0.7}: acc 0.5, conf 0.65; {0.8, 0.9}: acc 1.0, conf 0.85
    assert ece_adaptive(probs, y, bins=2) == pytest.approx(0.5 * 0.15 + 0.5 * 0.15)
    # debiased: 0.5 * (0.15^2 - 0.5 * 0.5 / 1) + 0.5 * (0.15^2 - 0) < 0 -> clipped to 0
    assert ece_debiased(probs, y, bins=2) == 0.0
    # one bin of all four: acc 0.75, conf 0.75 -> 0 either way
    assert ece_adaptive(probs, y, bins=1) == pytest.approx(0.0)
    # a wrong-everywhere confident model: acc 0 in every bin, no variance to subtract
    assert ece_debiased(probs, np.zeros(4, dtype=int), bins=2) == pytest.approx(np.sqrt(0.5 * 0.65 ** 2 + 0.5 * 0.85 ** 2))
