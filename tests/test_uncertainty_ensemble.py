"""Deep ensemble: member bookkeeping, params validation, and DVC caching of members."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from audiolens.config import ConfigError, parse_params
from audiolens.uncertainty.decompose import summarise
from audiolens.uncertainty.ensemble import ensemble_samples
from audiolens.uncertainty.members import member_dir, member_paths, member_seed
from audiolens.errors import ModelError

BIN = Path(sys.executable).parent


def tiny(seed: int, n_classes: int = 3) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 5, 1))
    x = keras.layers.Flatten()(inp)
    x = keras.layers.Dense(8, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(0.5, name="head_dropout")(x)
    x = keras.layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inp, keras.layers.Activation("softmax", name="probs")(x))


def test_member_seeds_and_folders(tmp_path):
    assert [member_seed(7, i) for i in (0, 1, 5)] == [7, 1007, 5007]
    assert member_dir("models", 0) == Path("models")
    assert member_dir("models", 3) == Path("models/ensemble/3")
    with pytest.raises(ModelError, match=r"models/ensemble/2/model.keras"):
        member_paths(tmp_path / "models", [0, 2])


def test_ensemble_stack_and_identical_members_have_zero_mutual_information():
    x = np.random.default_rng(0).normal(size=(9, 6, 5, 1)).astype("float32")
    a, b = tiny(1), tiny(2)
    s = ensemble_samples([a, b], x, batch_size=4)
    assert s.shape == (2, 9, 3)
    np.testing.assert_allclose(s[0], a.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert summarise(s).mutual_info.mean() > 0
    same = summarise(ensemble_samples([a, a], x))
    np.testing.assert_allclose(same.mutual_info, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="member 1 predicts shape"):
        ensemble_samples([a, tiny(3, n_classes=4)], x)


def test_params_derive_and_validate_ensemble_size():
    u = parse_params({"uncertainty": {"members": [1, 2, 3, 4, 5]}}).uncertainty
    assert u.ensemble_size == 6 and u.member_ids == [0, 1, 2, 3, 4, 5]
    u = parse_params({"uncertainty": {"members": [2, 5], "include_main": False}}).uncertainty
    assert u.member_ids == [2, 5] and u.ensemble_size == 2
    with pytest.raises(ConfigError, match="uncertainty.ensemble_size: unknown key"):
        parse_params({"uncertainty": {"ensemble_size": 6}})  # derived, never written
    with pytest.raises(ConfigError, match="duplicate"):
        parse_params({"uncertainty": {"members": [1, 1]}})
    with pytest.raises(ConfigError, match=">= 1"):
        parse_params({"uncertainty": {"members": [0, 1]}})
    with pytest.raises(ConfigError, match="needs several samples"):
        parse_params({"uncertainty": {"abstain_method": "single", "abstain_score": "mutual_info"}})
    with pytest.raises(ConfigError, match="mc_dropout' gives 1"):
        parse_params({"uncertainty": {"abstain_method": "mc_dropout", "mc_samples": 1,
                                      "abstain_score": "std"}})


# ---- DVC: growing the ensemble by one trains exactly one new member ---------------------------

TOUCH = ("import pathlib,sys; d=pathlib.Path(sys.argv[1]); d.mkdir(parents=True, exist_ok=True); "
         "(d/'model.keras').write_text(sys.argv[1])")


def _run(cmd, cwd, env):
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{cmd} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout + res.stderr


@pytest.fixture
def member_project(repo_root, tmp_path):
    """A small DVC project with the real train_member / uncertainty stage definitions and
    trivial commands (every dependency exists as a placeholder)."""
    if shutil.which("git") is None:
        pytest.skip("git not available")
    real = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((repo_root / "params.yaml").read_text())  # every section the stages name
    member = json.loads(json.dumps(real["train_member"]))
    member["do"]["cmd"] = f'python -c "{TOUCH}" models/ensemble/${{item}}'
    unc = json.loads(json.dumps(real["uncertainty"]))
    unc["cmd"] = (f'python -c "{TOUCH}" reports/uncertainty')
    d = tmp_path / "proj"
    d.mkdir()
    for dep in member["do"]["deps"] + unc["deps"]:
        dep = dep.replace("${model.arch}", params["model"]["arch"])
        if "${" in dep or dep.startswith("models/ensemble"):
            continue
        p = d / dep
        if p.suffix:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(dep)
        else:
            p.mkdir(parents=True, exist_ok=True)
            (p / "placeholder.txt").write_text(dep)
    (d / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train_member": member, "uncertainty": unc}},
                                               sort_keys=False))
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}:{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    _run(["git", "init", "-q"], d, env)
    _run([str(BIN / "dvc"), "init", "-q"], d, env)
    _run([str(BIN / "dvc"), "repro", "-q"], d, env)
    _run(["git", "add", "-A"], d, env)
    _run(["git", "commit", "-qm", "init"], d, env)
    return d, env, params


def _changed(d, env) -> set[str]:
    out = subprocess.run([str(BIN / "dvc"), "status", "--json"], cwd=d, env=env, capture_output=True,
                         text=True, check=True).stdout
    return set(json.loads(out or "{}"))


def test_growing_the_ensemble_by_one_trains_exactly_one_new_member(member_project):
    d, env, params = member_project
    n0 = len(params["uncertainty"]["members"])
    assert (d / "models/ensemble" / str(n0) / "model.keras").is_file()
    assert _changed(d, env) == set()
    original = (d / "params.yaml").read_text()
    grown = json.loads(json.dumps(params))
    grown["uncertainty"]["members"] = list(range(1, n0 + 2))
    assert parse_params(grown).uncertainty.ensemble_size == n0 + 2  # + the main model
    (d / "params.yaml").write_text(yaml.safe_dump(grown, sort_keys=False))
    changed = _changed(d, env)
    assert {s for s in changed if s.startswith("train_member")} == {f"train_member@{n0 + 1}"}
    assert "uncertainty" in changed  # its params changed: it re-runs with the bigger ensemble

    # the documented sweep command does the same through `dvc exp run -S`
    (d / "params.yaml").write_text(original)
    members = ",".join(str(i) for i in range(1, n0 + 2))
    out = _run([str(BIN / "dvc"), "exp", "run", "-S", f"uncertainty.members=[{members}]"], d, env)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {f"train_member@{n0 + 1}", "uncertainty"}, out
    assert (d / "models/ensemble" / str(n0 + 1) / "model.keras").is_file()
    assert yaml.safe_load((d / "params.yaml").read_text())["uncertainty"]["members"] == list(range(1, n0 + 2))
