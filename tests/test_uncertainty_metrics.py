"""Calibration / selective-prediction metrics and the entropy decomposition against hand values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiolens.uncertainty.compare import compare_methods, markdown_table, metrics_vs_count
from audiolens.uncertainty.decompose import entropy, summarise
from audiolens.uncertainty.metrics import (aurc, brier, ece_mce, misclassification_auc, nll,
                                           reliability, risk_coverage)
from audiolens.uncertainty.selective import (accept_mask, selective_summary,
                                             threshold_for_accuracy)


def _rows(conf: float, n: int, n_correct: int, n_classes: int = 3):
    """n examples whose top class (index 0) has probability ``conf``; the first n_correct are right."""
    rest = (1 - conf) / (n_classes - 1)
    p = np.full((n, n_classes), rest)
    p[:, 0] = conf
    y = np.where(np.arange(n) < n_correct, 0, 1)
    return p, y


def _stack(*parts):
    return np.concatenate([p for p, _ in parts]), np.concatenate([y for _, y in parts])


def test_ece_is_zero_on_perfectly_calibrated_predictions():
    probs, y = _stack(_rows(0.8, 20, 16), _rows(0.6, 10, 6), _rows(0.5, 8, 4), _rows(1.0, 4, 4))
    ece, mce = ece_mce(probs, y, bins=15)
    assert ece == pytest.approx(0.0, abs=1e-12)
    assert mce == pytest.approx(0.0, abs=1e-12)


def test_ece_and_mce_match_a_hand_computed_example():
    # bin 13 (0.867, 0.933]: two at 0.9, one right -> gap 0.4
    # bin 9 (0.600, 0.667]: 0.62 right, 0.65 wrong -> conf 0.635, acc 0.5 -> gap 0.135
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.62, 0.38], [0.35, 0.65]])
    y = np.array([0, 1, 0, 0])
    ece, mce = ece_mce(probs, y, bins=15)
    assert ece == pytest.approx((2 * 0.4 + 2 * 0.135) / 4)
    assert mce == pytest.approx(0.4)
    rel = reliability(probs, y, bins=15)
    assert rel["count"][13] == 2 and rel["count"][9] == 2 and sum(rel["count"]) == 4
    assert rel["confidence"][9] == pytest.approx(0.635) and rel["accuracy"][9] == 0.5
    assert rel["accuracy"][0] is None
    # with one bin ECE = |accuracy - mean confidence|
    assert ece_mce(probs, y, bins=1)[0] == pytest.approx(abs(0.5 - (0.9 + 0.9 + 0.62 + 0.65) / 4))


def test_reliability_bins_are_right_closed():
    probs = np.array([[1 / 3 + 1e-9, 1 / 3, 1 / 3 - 1e-9], [0.4, 0.3, 0.3], [1.0, 0.0, 0.0]])
    rel = reliability(probs, np.zeros(3, int), bins=3)
    assert rel["count"] == [0, 2, 1]  # (0,1/3], (1/3,2/3], (2/3,1]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(2, 5), st.integers(1, 20), st.integers(0, 10_000))
def test_ece_equals_a_direct_loop_over_bins(n, c, bins, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(c, 0.7), size=n)
    y = rng.integers(0, c, n)
    conf, right = probs.max(1), probs.argmax(1) == y
    ece, gaps = 0.0, []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        sel = (conf > lo) & (conf <= hi) if b else (conf <= hi)
        if sel.any():
            gaps.append(abs(right[sel].mean() - conf[sel].mean()))
            ece += sel.sum() / n * gaps[-1]
    got_ece, got_mce = ece_mce(probs, y, bins=bins)
    assert got_ece == pytest.approx(ece, abs=1e-9)
    assert got_mce == pytest.approx(max(gaps), abs=1e-9)


def test_nll_and_brier_match_hand_calculation():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]])
    y = np.array([0, 2])
    assert nll(probs, y) == pytest.approx(-(math.log(0.7) + math.log(0.4)) / 2)
    # (0.3^2 + 0.2^2 + 0.1^2 + 0.1^2 + 0.5^2 + 0.6^2) / 2 = (0.14 + 0.62) / 2
    assert brier(probs, y) == pytest.approx(0.38)
    assert brier(np.eye(3), np.arange(3)) == 0.0
    assert brier(np.eye(3), np.array([1, 2, 0])) == pytest.approx(2.0)


def test_metrics_reject_bad_shapes_and_labels():
    with pytest.raises(ValueError, match="labels"):
        nll(np.full((2, 2), 0.5), np.array([0, 2]))
    with pytest.raises(ValueError, match=r"\(n, C\)"):
        brier(np.full(4, 0.25), np.array([0]))


def test_misclassification_auc_orders_scores():
    wrong = np.array([0, 0, 0, 1, 1], bool)
    good = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert misclassification_auc(good, wrong) == {"auroc": 1.0, "auprc": 1.0}
    assert misclassification_auc(-good, wrong)["auroc"] == 0.0
    assert misclassification_auc(good, np.zeros(5, bool)) == {"auroc": None, "auprc": None}


def test_risk_coverage_and_aurc_hand_example():
    score = np.array([0.3, 0.1, 0.4, 0.2])
    wrong = np.array([0, 0, 1, 1])  # sorted by score: right, wrong, right, wrong
    cov, risk = risk_coverage(score, wrong)
    np.testing.assert_allclose(cov, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0, 0.5, 1 / 3, 0.5])
    a = aurc(score, wrong)
    assert a["aurc"] == pytest.approx((0 + 0.5 + 1 / 3 + 0.5) / 4)
    assert a["eaurc"] == pytest.approx(a["aurc"] - (0 + 0 + 1 / 3 + 0.5) / 4)
    # ties are kept together: one point for the tied pair
    cov_t, risk_t = risk_coverage(np.array([0.1, 0.5, 0.5]), np.array([0, 1, 0]))
    np.testing.assert_allclose(cov_t, [1 / 3, 1.0])
    np.testing.assert_allclose(risk_t, [0, 1 / 3])
    assert aurc(np.zeros(3), np.array([1, 0, 0]))["aurc"] == pytest.approx(1 / 3)


def test_entropy_decomposition_hand_values():
    assert entropy(np.full(4, 0.25)) == pytest.approx(math.log(4))
    assert entropy(np.array([1.0, 0.0])) == 0.0
    pred = summarise(np.array([[[1.0, 0.0]], [[0.0, 1.0]]]))  # two passes disagree completely
    assert pred.predictive_entropy[0] == pytest.approx(math.log(2))
    assert pred.expected_entropy[0] == pytest.approx(0.0)
    assert pred.mutual_info[0] == pytest.approx(math.log(2))
    np.testing.assert_allclose(pred.std[0], [0.5, 0.5])


def test_mutual_information_is_zero_when_all_passes_agree():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=20)
    pred = summarise(np.repeat(p[None], 7, axis=0))
    np.testing.assert_allclose(pred.mutual_info, 0.0, atol=1e-12)
    np.testing.assert_allclose(pred.std, 0.0, atol=1e-12)
    np.testing.assert_allclose(pred.predictive_entropy, pred.expected_entropy)
    assert set(summarise(p).scores()) == {"max_prob", "entropy"}  # deterministic: no MI / std


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 6), st.integers(2, 6), st.integers(0, 10_000))
def test_mutual_information_is_bounded(s, n, c, seed):
    samples = np.random.default_rng(seed).dirichlet(np.full(c, 0.5), size=(s, n))
    pred = summarise(samples)
    assert np.all(pred.mutual_info >= 0)
    assert np.all(pred.mutual_info <= pred.predictive_entropy + 1e-9)
    assert np.all(pred.predictive_entropy <= math.log(c) + 1e-9)


def test_abstention_rules_and_threshold_search():
    probs = np.array([[0.95, 0.05], [0.8, 0.2], [0.6, 0.4], [0.55, 0.45]])
    pred = summarise(probs)
    correct = np.array([True, True, False, True])
    np.testing.assert_array_equal(accept_mask("max_prob", pred.scores(), 0.7), [1, 1, 0, 0])
    np.testing.assert_array_equal(accept_mask("entropy", pred.scores(), 0.6),
                                  pred.predictive_entropy <= 0.6)
    s = selective_summary("max_prob", pred.scores(), 0.7, correct)
    assert s["coverage"] == 0.5 and s["selective_accuracy"] == 1.0 and s["accuracy_all"] == 0.75
    assert selective_summary("max_prob", pred.scores(), 0.99, correct)["selective_accuracy"] is None
    assert threshold_for_accuracy("max_prob", pred.scores(), correct, 1.0) == pytest.approx(0.8)
    assert threshold_for_accuracy("max_prob", pred.scores(), correct, 0.75) == pytest.approx(0.55)
    assert threshold_for_accuracy("max_prob", pred.scores(), ~correct, 0.9) is None
    with pytest.raises(ValueError, match="not available"):
        accept_mask("mutual_info", pred.scores(), 0.1)


def test_comparison_and_curves_vs_count():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 40)
    samples = rng.dirichlet(np.ones(3), size=(6, 40))
    samples[:, np.arange(40), y] += 1.0
    samples /= samples.sum(-1, keepdims=True)
    rows = metrics_vs_count(samples, y)
    assert [r["count"] for r in rows] == list(range(1, 7))
    full = summarise(samples)
    assert rows[-1]["nll"] == pytest.approx(nll(full.mean, y))
    assert rows[0]["nll"] == pytest.approx(nll(samples[0], y))
    cmp = compare_methods({"single": summarise(samples[0]), "ensemble": full}, y)
    assert set(cmp["vs_count"]) == {"ensemble"}
    assert set(cmp["methods"]["ensemble"]["scores"]) == {"max_prob", "entropy", "mutual_info", "std"}
    md = markdown_table(cmp, title="test")
    assert "| ensemble | 6 |" in md and "mutual information" in md


def test_risk_coverage_figure_area_is_the_printed_aurc():
    from audiolens.uncertainty.figures import risk_coverage_steps
    from audiolens.uncertainty.metrics import aurc as aurc_fn

    rng = np.random.default_rng(0)
    for ties in (False, True):
        score = rng.random(46)
        if ties:
            score = np.round(score, 1)           # groups of tied scores
        wrong = rng.random(46) < 0.2
        cov, risk = risk_coverage_steps(score, wrong)
        assert cov[0] == 0 and cov[-1] == pytest.approx(1.0)
        assert np.trapezoid(risk, cov) == pytest.approx(aurc_fn(score, wrong)["aurc"], abs=1e-12)
