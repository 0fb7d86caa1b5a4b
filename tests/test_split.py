"""Leakage-safe split: group disjointness, augmented rows only in train, clear errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _learn_fixtures import make_index
from audiolens.split import SplitError, check_split, cv_arrangement, make_split, split_counts


@st.composite
def manifests(draw):
    """Random segment tables: groups with random sizes, labels, speakers and augmented copies."""
    n_classes = draw(st.integers(2, 4))
    cycled = draw(st.sampled_from([n_classes, 3 * n_classes, 3 * n_classes, 4 * n_classes]))
    n_groups = draw(st.integers(cycled, 40))  # cycled < 3 * classes: some requests are infeasible
    rows = []
    for g in range(n_groups):
        label = g % n_classes if g < cycled else draw(st.integers(0, n_classes - 1))
        spk = f"s{draw(st.integers(0, 15))}"
        n_seg = draw(st.integers(1, 5))
        n_aug = draw(st.integers(0, 3))
        for k in range(n_seg + n_aug):
            rows.append({"segment_id": f"g{g}__{k}", "label_index": label, "group": f"g{g}",
                         "speaker": spk, "augmented": k >= n_seg, "fold": str(g % 3)})
    return pd.DataFrame(rows)


def _assert_leak_free(seg: pd.DataFrame, out: pd.DataFrame, key: str):
    assert list(out["segment_id"]) == list(seg["segment_id"])
    used = out["split"] != "unused"
    groups = seg[key].astype(str)
    per_group = pd.DataFrame({"g": groups[used], "s": out.loc[used, "split"]}).groupby("g")["s"].nunique()
    assert (per_group <= 1).all(), "a group spans two splits"
    aug = seg["augmented"].to_numpy(bool)
    assert set(out.loc[aug, "split"]) <= {"train", "unused"}
    assert set(out.loc[~aug, "split"]) <= {"train", "val", "test"}
    # augmented rows are kept exactly when their group trains
    train_groups = set(groups[(~aug) & (out["split"] == "train").to_numpy()])
    assert ((out.loc[aug, "split"] == "train").to_numpy() == groups[aug].isin(train_groups).to_numpy()).all()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seg=manifests(), group_by=st.sampled_from(["recording", "speaker"]), seed=st.integers(0, 5),
       method=st.sampled_from(["ratio", "folds", "cv"]))
def test_no_group_in_two_splits_and_augmented_only_in_train(seg, group_by, seed, method):
    kw = {"ratio": {}, "folds": {"test_fold": "0"}, "cv": {"cv_folds": 3}}[method]
    if method == "folds" and group_by == "speaker":
        group_by = "recording"  # a speaker spans folds here: covered by test_group_spanning_folds
    try:
        out = make_split(seg, method=method, group_by=group_by, seed=seed, **kw)
    except SplitError as exc:
        # only legitimate reason: some class cannot reach every split with its groups
        assert "cannot appear in every split" in str(exc)
        key = "group" if group_by == "recording" else "speaker"
        needed = 3
        per_class = seg[~seg["augmented"]].groupby("label_index")[key].nunique()
        if group_by == "recording" and method in ("ratio", "cv"):
            assert per_class.min() < needed
        return
    _assert_leak_free(seg, out, "group" if group_by == "recording" else "speaker")
    if method == "cv":
        for i in range(3):
            arr = cv_arrangement(out["cv_fold"], out["augmented"], fold=i, k=3)
            check_split(out.assign(split=arr))


def test_ratio_split_is_stratified_and_near_target():
    seg = make_index(n_classes=3, recordings_per_class=20, segments_per_recording=2)
    out = make_split(seg, train=0.6, val=0.2, test=0.2, seed=1)
    orig = out[~out["augmented"]]
    for c in range(3):
        frac = orig[orig.label_index == c]["split"].value_counts(normalize=True)
        assert frac["train"] == pytest.approx(0.6, abs=0.06)
        assert frac["test"] == pytest.approx(0.2, abs=0.06)
    # same seed -> same split; other seed -> different
    assert out.equals(make_split(seg, train=0.6, val=0.2, test=0.2, seed=1))
    assert not out["split"].equals(make_split(seg, train=0.6, val=0.2, test=0.2, seed=2)["split"])


def test_too_few_groups_is_a_clear_error():
    seg = make_index(n_classes=2, recordings_per_class=2)
    with pytest.raises(SplitError, match=r"class 'a' has 2 group\(s\).*none in"):
        make_split(seg, class_names=["a", "b"])
    # without a validation split two recordings per class are enough
    out = make_split(seg, train=0.5, val=0.0, test=0.5)
    assert set(out["split"]) == {"train", "test", "unused"}


def test_speaker_grouping_keeps_speakers_apart():
    seg = make_index(n_classes=2, recordings_per_class=9, speakers_per_class=3)
    out = make_split(seg, group_by="speaker")
    spk = seg["speaker"]
    assert (pd.DataFrame({"s": spk, "split": out["split"]})[out["split"] != "unused"]
            .groupby("s")["split"].nunique() == 1).all()
    seg.loc[3, "speaker"] = ""
    with pytest.raises(SplitError, match="no speaker"):
        make_split(seg, group_by="speaker")


def test_predefined_folds():
    seg = make_index(n_classes=2, recordings_per_class=6)
    out = make_split(seg, method="folds", test_fold="1", val_fold="2")
    orig = ~seg["augmented"]
    assert (out.loc[orig & (seg.fold == "1"), "split"] == "test").all()
    assert (out.loc[orig & (seg.fold == "2"), "split"] == "val").all()
    assert (out.loc[orig & (seg.fold == "3"), "split"] == "train").all()
    with pytest.raises(SplitError, match=r"test_fold = '9' is not a fold.*\['1', '2', '3'\]"):
        make_split(seg, method="folds", test_fold="9")
    seg.loc[(seg.group == "c0_r0").to_numpy() & orig.to_numpy(), "fold"] = ["1", "2", "1"]
    with pytest.raises(SplitError, match="several predefined folds"):
        make_split(seg, method="folds", test_fold="1")


def test_counts_add_up():
    seg = make_index()
    out = make_split(seg)
    counts = split_counts(out, ["x", "y", "z"])
    assert counts["segments"].sum() == len(seg)
    assert set(counts["label"]) == {"x", "y", "z"}
    assert counts.loc[counts.split == "unused", "originals"].sum() == 0
    train = counts[counts.split == "train"]
    assert (train["augmented"] > 0).all()


def test_check_split_detects_leaks():
    out = make_split(make_index())
    leaky = out.copy()
    i = np.flatnonzero(leaky["split"] == "test")[0]
    j = np.flatnonzero((leaky["split"] == "train") & ~leaky["augmented"])[0]
    leaky.loc[i, "group_key"] = leaky.loc[j, "group_key"]
    with pytest.raises(AssertionError, match="several splits"):
        check_split(leaky)
    leaky = out.copy()
    k = np.flatnonzero(leaky["augmented"])[0]
    leaky.loc[k, "split"] = "val"
    with pytest.raises(AssertionError, match="outside train"):
        check_split(leaky)


def test_split_stage_script(tmp_path):
    """stages/split.py: writes split.csv/counts.csv; an unsatisfiable request exits with the reason."""
    import subprocess
    import sys
    from pathlib import Path

    from _learn_fixtures import write_features

    repo = Path(__file__).resolve().parents[1]
    write_features(tmp_path / "data" / "processed" / "features", make_index(n_classes=2, recordings_per_class=5))
    (tmp_path / "params.yaml").write_text("split:\n  group_by: speaker\n  seed: 3\n")
    run = lambda: subprocess.run([sys.executable, str(repo / "stages" / "split.py")], cwd=tmp_path,
                                 capture_output=True, text=True, timeout=120)
    res = run()
    assert res.returncode == 0, res.stderr
    out = pd.read_csv(tmp_path / "data" / "processed" / "split" / "split.csv")
    assert (out["group_key"].str.startswith("spk:")).all()
    assert (tmp_path / "data" / "processed" / "split" / "counts.csv").is_file()
    assert (tmp_path / "data" / "processed" / "split" / "resolved_params.yaml").is_file()
    (tmp_path / "params.yaml").write_text("split:\n  method: cv\n  cv_folds: 8\n")
    res = run()
    assert res.returncode == 2 and "cannot appear in every split" in res.stderr
    assert "Traceback" not in res.stderr
    (tmp_path / "params.yaml").write_text("split:\n  method: folds\n")
    res = run()
    assert res.returncode == 2 and "split.test_fold is required" in res.stderr


def test_cv_folds_yields_the_arrangements_after_the_first():
    from audiolens.split import cv_folds

    idx = make_index(n_classes=2, recordings_per_class=6, segments_per_recording=2)
    table = make_split(idx, method="cv", cv_folds=3)
    got = list(cv_folds(table, 3))
    assert [f for f, _ in got] == [1, 2]
    for fold, arr in got:
        expected = cv_arrangement(table["cv_fold"], table["augmented"], fold=fold, k=3)
        assert arr["split"].tolist() == expected.tolist()
        assert arr.drop(columns="split").equals(table.drop(columns="split"))
    assert list(cv_folds(table, 1)) == [] and list(cv_folds(table, 0)) == []


def _fold_index(folds=("1", "2", "10"), per_fold=2, n_classes=2):
    """Recordings with predefined folds (UrbanSound-like names): ``per_fold`` recordings per class and fold."""
    idx = make_index(n_classes=n_classes, recordings_per_class=per_fold * len(folds), segments_per_recording=2)
    r = idx["source_id"].str.extract(r"_r(\d+)$")[0].astype(int)
    idx["fold"] = [folds[i % len(folds)] for i in r]
    return idx


def test_cv_on_predefined_folds_tests_every_recording_once_in_its_own_fold():
    from audiolens.split import cv_fold_names, cv_folds

    idx = _fold_index()
    table = make_split(idx, method="cv", cv_folds=3, predefined_folds=True)
    names = cv_fold_names(table, 3)
    assert names == ["1", "2", "10"]  # natural order: 10 after 2
    orig = ~idx["augmented"].to_numpy(bool)
    tested = []
    for i, arr in [(0, table), *cv_folds(table, 3)]:
        test = arr["split"].to_numpy() == "test"
        val = arr["split"].to_numpy() == "val"
        assert set(idx.loc[test, "fold"]) == {names[i]}  # the test set is exactly fold i ...
        assert (test == (orig & (idx["fold"] == names[i]).to_numpy())).all()
        assert set(idx.loc[val, "fold"]) == {names[(i + 1) % 3]}  # ... and the next fold validates
        check_split(arr)
        tested.extend(idx.loc[test, "recording_id"])
    originals = idx.loc[orig, "recording_id"]
    assert sorted(set(tested)) == sorted(set(originals))  # every recording tested ...
    assert len(tested) == orig.sum()  # ... exactly once (each of its segments once)


def test_predefined_cv_needs_cv_folds_equal_to_the_folds():
    idx = _fold_index()
    with pytest.raises(SplitError, match=r"cv_folds = 4 but the data has 3 predefined folds \(1, 2, 10\)"):
        make_split(idx, method="cv", cv_folds=4, predefined_folds=True)
    idx.loc[0, "fold"] = ""
    with pytest.raises(SplitError, match="no fold"):
        make_split(idx, method="cv", cv_folds=3, predefined_folds=True)
    # without predefined folds the same table gets drawn, group-stratified folds
    out = make_split(_fold_index(), method="cv", cv_folds=4)
    assert sorted(out["cv_fold"].unique()) == [0, 1, 2, 3] and "cv_fold_name" not in out


def test_integer_fold_values_are_accepted():
    from audiolens.config import parse_params

    idx = _fold_index()
    p = parse_params({"split": {"method": "folds", "test_fold": 2, "val_fold": 10}})
    assert p.split.test_fold == "2" and p.split.val_fold == "10"
    out = make_split(idx, method="folds", test_fold=p.split.test_fold, val_fold=p.split.val_fold)
    assert set(idx.loc[out["split"] == "test", "fold"]) == {"2"}
    assert make_split(idx, method="folds", test_fold=2)["split"].equals(
        make_split(idx, method="folds", test_fold="2")["split"])


def test_split_stage_uses_predefined_folds_with_data_fold(tmp_path):
    """`-S split.method=cv -S split.cv_folds=3` with data.fold set: the stage writes the predefined folds."""
    import subprocess
    import sys
    from pathlib import Path

    from _learn_fixtures import write_features

    repo = Path(__file__).resolve().parents[1]
    write_features(tmp_path / "data" / "processed" / "features", _fold_index())
    (tmp_path / "params.yaml").write_text("data:\n  layout: csv\n  manifest: m.csv\n  label: label\n  positive: null\n"
                                          "  class_names: null\n  speaker: null\n  fold: fold\n"
                                          "split:\n  method: cv\n  cv_folds: 3\n")
    res = subprocess.run([sys.executable, str(repo / "stages" / "split.py")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = pd.read_csv(tmp_path / "data" / "processed" / "split" / "split.csv", dtype={"cv_fold_name": str})
    assert set(out["cv_fold_name"]) == {"1", "2", "10"}
    assert set(out.loc[out["split"] == "test", "cv_fold_name"]) == {"1"}
