"""End to end: copy the repo to a temp dir, run `dvc repro` on a tiny profile, check every stage."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def sh(cmd: list[str], cwd: Path, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-8000:]}")
    return res


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def project(repo_root, tmp_path_factory):
    """A fresh copy of the working tree as its own git + DVC repo, with the tiny profile, reproduced."""
    dest = tmp_path_factory.mktemp("e2e") / "proj"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=repo_root,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        src = repo_root / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    tiny = yaml.safe_load((repo_root / "tests/profiles/tiny.yaml").read_text())
    (dest / "params.yaml").write_text(yaml.safe_dump(deep_merge(params, tiny), sort_keys=False))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}:{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "TF_CPP_MIN_LOG_LEVEL": "2", "TQDM_DISABLE": "1"}
    sh(["git", "init", "-q"], dest, env)
    sh(["git", "add", "-A"], dest, env)
    sh(["git", "commit", "-qm", "init"], dest, env)
    t0 = time.perf_counter()
    first = sh([str(BIN / "dvc"), "repro"], dest, env)
    elapsed = time.perf_counter() - t0
    return {"dir": dest, "env": env, "first": first, "seconds": elapsed, "tiny": tiny}


def test_every_stage_ran_and_every_out_exists(project):
    d = project["dir"]
    lock = yaml.safe_load((d / "dvc.lock").read_text())
    stages = yaml.safe_load((d / "dvc.yaml").read_text())["stages"]
    assert set(stages) <= {k.split("@")[0] for k in lock["stages"]}
    for name, st in lock["stages"].items():
        for out in st.get("outs", []):
            assert (d / out["path"]).exists(), f"stage {name}: missing output {out['path']}"
        assert (d / out["path"]).exists()
    status = sh([str(BIN / "dvc"), "status"], d, project["env"]).stdout
    assert "up to date" in status, status


def test_second_repro_is_a_noop(project):
    d = project["dir"]
    t0 = time.perf_counter()
    res = sh([str(BIN / "dvc"), "repro"], d, project["env"])
    took = time.perf_counter() - t0
    assert "Running stage" not in res.stdout, res.stdout
    print(f"second dvc repro: {took:.2f} s")


def test_ingest_outputs(project):
    d, tiny = project["dir"], project["tiny"]["demo"]
    m = pd.read_csv(d / "data/interim/ingest/manifest.csv", dtype={"fold": str})
    assert len(m) == len(tiny["speakers"]) * tiny["scripts"]
    assert set(m.label) == {"allowed", "rejected"}
    assert set(m[m.label == "allowed"].speaker) == {"f1", "f7", "m3"}
    assert (d / "reports/ingest/skipped.csv").is_file()
    resolved = yaml.safe_load((d / "data/interim/ingest/resolved_params.yaml").read_text())
    assert resolved["data"]["layout"] == "demo"


def test_raw_data_unchanged_by_the_pipeline(project):
    d = project["dir"]
    raw = d / "data/raw/demo"
    before = digest(raw)
    sh([str(BIN / "python"), "stages/demo.py"], d, project["env"])  # regenerate: deterministic
    assert digest(raw) == before
    sh([str(BIN / "dvc"), "repro", "--force", "--single-item", "ingest"], d, project["env"])
    assert digest(raw) == before
