"""The FSDD voice-gate benchmark's split, params and accept rates (no data needed: file names only)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audiolens.config import parse_params

ROOT = Path(__file__).resolve().parents[1]
SPEAKERS = ["ann", "bob", "cat", "dan", "eve", "fay"]


@pytest.fixture(scope="module")
def bench():
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ROOT / "benchmarks"))  # the script imports its sibling fsdd_speaker
        spec = importlib.util.spec_from_file_location("bench_fsdd_gate", ROOT / "benchmarks" / "fsdd_gate.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    return mod


@pytest.fixture()
def data(tmp_path):
    for s in SPEAKERS:
        for d in range(3):
            for t in range(50):
                (tmp_path / f"{d}_{s}_{t}.wav").touch()
    (tmp_path / "notes.txt").touch()
    return tmp_path


def test_unseen_impostors_are_only_tested_and_enrolled_takes_split(bench, data):
    table = bench.manifest(data, ["ann", "bob"], ["eve", "fay"])
    assert len(table) == 6 * 3 * 50
    unseen = table["speaker"].isin(["eve", "fay"])
    assert (table.loc[unseen, "fold"] == "test").all()
    assert (table.loc[unseen, "group"] == "unseen_impostors").all()
    take = table["take"].astype(int)
    enrolled = table[~unseen]
    assert (enrolled.loc[take[~unseen] < 10, "fold"] == "test").all()
    assert (enrolled.loc[(take[~unseen] >= 10) & (take[~unseen] < 18), "fold"] == "val").all()
    assert (enrolled.loc[take[~unseen] >= 18, "fold"] == "train").all()
    assert set(table.loc[table["speaker"].isin(["cat", "dan"]), "group"]) == {"enrolled_impostors"}
    assert set(table.loc[table["speaker"].isin(["ann", "bob"]), "group"]) == {"allowed"}
    # every speaker the gate trains on is also tested (on other takes)
    assert set(table.loc[table["fold"] == "train", "speaker"]) == {"ann", "bob", "cat", "dan"}


def test_missing_speaker_is_named(bench, data):
    with pytest.raises(SystemExit, match="zed"):
        bench.manifest(data, ["ann", "zed"], ["eve"])


def test_gate_params_validate(bench, data, tmp_path):
    params = parse_params(bench.gate_params(data, tmp_path / "manifest.csv", ["ann", "bob"]))
    assert params.data.positive == ["ann", "bob"] and params.data.fold == "fold"
    assert params.split.method == "folds" and str(params.split.test_fold) == "test"
    assert params.uncertainty.abstain_method == "mc_dropout" and list(params.uncertainty.members) == []


def test_accept_rates_and_paired_difference(bench):
    rows = []
    for g, (n, cnn_acc, base_acc) in {"allowed": (40, 40, 20), "enrolled_impostors": (40, 4, 4),
                                      "unseen_impostors": (40, 10, 30)}.items():
        for i in range(n):
            rows.append({"filename": f"{g}{i}.wav", "group": g, "speaker": f"s{i // 20}", "digit": str(i % 10),
                         "accepted": float(i < cnn_acc), "accepted_b": float(i < base_acc)})
    table = pd.DataFrame(rows)
    cnn = table.drop(columns="accepted_b")
    base = table[["filename", "accepted_b"]].rename(columns={"accepted_b": "accepted"})
    out = bench.accept_rates(cnn, base, resamples=200)
    a = out["allowed"]
    assert a["n_recordings"] == 40 and a["n_speaker_digits"] == 20
    assert a["cnn"]["value"] == 1.0 and a["cnn"]["ci95"] == {"lo": 1.0, "hi": 1.0}
    assert a["baseline"]["value"] == 0.5 and a["difference"]["diff"] == 0.5
    assert out["enrolled_impostors"]["difference"]["distinguishable"] == 0
    u = out["unseen_impostors"]
    assert np.isclose(u["difference"]["diff"], 0.25 - 0.75)
    assert u["difference"]["hi"] < 0 and u["difference"]["distinguishable"] == 1
    # per speaker: s0 is rows 0-19 of each group, s1 rows 20-39
    assert u["by_speaker"] == {"s0": {"n": 20, "cnn": 0.5, "baseline": 1.0}, "s1": {"n": 20, "cnn": 0.0, "baseline": 0.5}}
