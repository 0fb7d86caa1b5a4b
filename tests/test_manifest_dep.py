"""Under DVC, a CSV manifest outside ``data.root`` is an ``ingest`` dependency: relabelling a row makes ingest stale."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import BIN, copy_project, sh, write_wav

pytestmark = pytest.mark.slow

CSV_PARAMS = {"data": {"layout": "csv", "root": "corpus/audio", "manifest": "corpus/meta/labels.csv",
                       "filename_column": "filename", "label": "category", "positive": None, "class_names": None,
                       "speaker": None, "group": None, "fold": None, "n_jobs": 1}}


def test_editing_a_manifest_row_outside_the_root_makes_ingest_stale(repo_root, tmp_path):
    d = tmp_path / "proj"
    env = copy_project(repo_root, d, skip=("data/", "models/", "reports/", "dvc.lock"), params=CSV_PARAMS)
    if not (d / ".dvc").is_dir():
        sh([str(BIN / "dvc"), "init", "-q"], d, env)
    t = np.arange(8000) / 8000
    names = [f"{i}.wav" for i in range(4)]
    for i, name in enumerate(names):
        write_wav(d / "corpus/audio" / name, 0.3 * np.sin(2 * np.pi * (200 + 100 * i) * t), 8000)
    table = d / "corpus/meta/labels.csv"  # beside the root, not inside it
    table.parent.mkdir(parents=True)
    pd.DataFrame({"filename": names, "category": ["dog", "dog", "cat", "cat"]}).to_csv(table, index=False)

    def status() -> str:
        return sh([str(BIN / "dvc"), "status", "ingest"], d, env).stdout

    sh([str(BIN / "dvc"), "repro", "ingest"], d, env)
    assert "up to date" in status()
    pd.DataFrame({"filename": names, "category": ["dog", "cat", "cat", "cat"]}).to_csv(table, index=False)
    out = status()
    assert "ingest:" in out and "corpus/meta/labels.csv" in out, out
    sh([str(BIN / "dvc"), "repro", "ingest"], d, env)
    manifest = pd.read_csv(d / "data/interim/ingest/manifest.csv").set_index("path")
    assert manifest.loc["1.wav", "label"] == "cat"
    assert "up to date" in status()
