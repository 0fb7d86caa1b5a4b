"""The headline metrics picked for the top-level DVC metrics file."""
from __future__ import annotations

import math

from audiolens.report import HEADLINE_KEYS, headline

EVAL = {"n": 46, "accuracy": 0.95, "balanced_accuracy": 0.94, "f1_macro": 0.93, "roc_auc": 0.99,
        "precision_macro": 0.9, "binary": {"eer": 0.06, "far": 0.03}, "recording": {"mean_prob": {"n": 16}},
        "confusion_matrix": [[1, 2], [3, 4]]}
UNC = {"single": {"accuracy": 0.95, "ece": 0.034}, "ensemble": {"ece": 0.096}, "ensemble_size": 5}


def test_binary_task_with_uncertainty_gives_the_full_flat_set_in_order():
    out = headline(EVAL, UNC, 46)
    assert out == {"n": 46, "accuracy": 0.95, "balanced_accuracy": 0.94, "f1_macro": 0.93, "eer": 0.06,
                   "ece": 0.034, "ece_n": 46}
    assert list(out) == [k for k in HEADLINE_KEYS if k in out]
    assert all(not isinstance(v, (dict, list)) for v in out.values())  # one column each in `dvc exp show`
    assert isinstance(out["n"], int) and isinstance(out["ece_n"], int)


def test_missing_pieces_are_left_out_not_invented():
    multiclass = {k: v for k, v in EVAL.items() if k != "binary"}
    out = headline(multiclass, None, None)
    assert set(out) == {"n", "accuracy", "balanced_accuracy", "f1_macro"}
    # no ECE -> no ECE count either; NaN and non-numbers are dropped
    out = headline({**EVAL, "f1_macro": math.nan, "accuracy": "0.9"}, {"single": {}}, 46)
    assert set(out) == {"n", "balanced_accuracy", "eer"}
    assert headline(None, UNC, 46) == {"ece": 0.034, "ece_n": 46}


def test_baseline_margin_joins_the_headline_when_the_baseline_ran():
    ev = {**EVAL, "baseline_margin": {"baseline": "knn1", "accuracy": 0.07, "baseline_accuracy": 0.88}}
    out = headline(ev, UNC, 46)
    assert out["margin"] == 0.07 and list(out)[-1] == "margin"


def test_intervals_go_into_one_nested_block_with_the_recording_count():
    ci = {"accuracy": {"lo": 0.9, "hi": 1.0}, "f1_macro": {"lo": 0.85, "hi": 0.99}, "eer": {"lo": 0.0, "hi": 0.1}}
    ev = {**EVAL, "n_recordings": 16, "ci95": ci,
          "baseline_margin": {"accuracy": 0.0, "ci95": {"accuracy": {"lo": -0.04, "hi": 0.04}}}}
    unc = {"single": {"ece": 0.034, "ci95": {"ece": {"lo": 0.02, "hi": 0.09}}}}
    out = headline(ev, unc, 46)
    assert list(out)[-1] == "ci95"
    assert out["ci95"] == {"n_recordings": 16, **ci, "ece": {"lo": 0.02, "hi": 0.09},
                           "margin": {"lo": -0.04, "hi": 0.04}}
    # the values stay flat scalars (one `dvc exp show` column each; ci95.* columns are nested)
    assert all(not isinstance(v, (dict, list)) for k, v in out.items() if k != "ci95")
    # an interval without its value, or a malformed one, is not shown
    bad = {**ev, "accuracy": None, "ci95": {**ci, "f1_macro": {"lo": None, "hi": 1.0}}}
    assert set(headline(bad, None, None)["ci95"]) == {"n_recordings", "eer", "margin"}
