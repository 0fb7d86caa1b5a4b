"""The preprocessing stages under DVC: byte-identical re-runs, and params that invalidate only what they should."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import BIN, copy_project, sh

pytestmark = pytest.mark.slow
PREP = ("clean", "segment", "augment", "spectrogram")


def _sh(cmd: list[str], cwd: Path, env: dict) -> str:
    return sh(cmd, cwd, env, timeout=600).stdout


def _set(path: Path, section: str, key: str, value) -> None:
    params = yaml.safe_load(path.read_text())
    params[section][key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def _stale(status: str) -> set[str]:
    return {line[:-1].strip() for line in status.splitlines() if line and not line[0].isspace() and line.endswith(":")}


@pytest.fixture(scope="module")
def proj(repo_root, tmp_path_factory):
    dest = tmp_path_factory.mktemp("prep") / "proj"
    env = copy_project(repo_root, dest, skip=("data/", "models/", "reports/", "dvc.lock"), params={
        "demo": {"speakers": ["f1", "f2", "m3", "m4"], "scripts": 2, "duration_s": 4.0}, "audio": {"n_jobs": 1}})
    if not (dest / ".dvc").is_dir():
        _sh([str(BIN / "dvc"), "init", "-q"], dest, env)
    _sh([str(BIN / "dvc"), "repro", "spectrogram"], dest, env)
    return dest, env


def test_forced_rerun_gives_identical_hashes(proj):
    d, env = proj
    before = yaml.safe_load((d / "dvc.lock").read_text())["stages"]
    _sh([str(BIN / "dvc"), "repro", "--force", "--single-item", *PREP], d, env)
    after = yaml.safe_load((d / "dvc.lock").read_text())["stages"]
    for name in PREP:
        assert before[name]["outs"] == after[name]["outs"], name
    index = (d / "data/processed/features/index.csv").read_text().splitlines()
    assert len(index) > 1 and (d / "data/processed/features/shard_000.npy").is_file()


def test_params_invalidate_only_their_stages(proj):
    d, env = proj
    params = d / "params.yaml"
    original = params.read_text()
    try:
        _set(params, "features", "kind", "mel")
        stale = _stale(_sh([str(BIN / "dvc"), "status", *PREP], d, env))
        assert stale == {"spectrogram"}, stale
        params.write_text(original)
        _set(params, "train", "epochs", 99)
        _set(params, "model", "dropout", 0.123)
        assert _stale(_sh([str(BIN / "dvc"), "status", "demo", "ingest", *PREP], d, env)) == set()
        params.write_text(original)
        _set(params, "segment", "length_s", 2.0)
        # dvc status names the stages whose own params changed (spectrogram follows via their outputs)
        assert _stale(_sh([str(BIN / "dvc"), "status", *PREP], d, env)) == {"segment", "augment"}
    finally:
        params.write_text(original)
