"""One error hierarchy: a stage given bad input exits 2 with one line naming the problem."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from audiolens import errors
from audiolens.audio import DenoiseSkipped
from audiolens.config import ConfigError
from audiolens.corpus.ingest import IngestError
from audiolens.corpus.layouts import LayoutError
from audiolens.inference import PredictError
from audiolens.io import AudioReadError, PathEscapeError
from audiolens.runtime import stage_main

ROOT = Path(__file__).resolve().parents[1]


def _run_stage(name: str, cwd: Path, params: dict) -> subprocess.CompletedProcess:
    (cwd / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "AUDIOLENS_LOG": "WARNING"}
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py")], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


REGEX = {"layout": "regex", "pattern": r"(?P<speaker>[fm]\d+)_(?P<script>\w+)\.wav"}


def test_missing_data_root_is_one_line_and_exit_2(tmp_path):
    res = _run_stage("ingest", tmp_path, {"data": {**REGEX, "root": "nowhere"}})
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == ["[ingest] data.root: data root folder not found: nowhere"]


def test_nothing_usable_writes_the_skipped_table_then_exits_2(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "f1_a.wav").write_bytes(b"")
    res = _run_stage("ingest", tmp_path, {"data": {**REGEX, "root": "raw"}})
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[ingest] no usable recordings under raw")
    assert "reports/ingest/skipped.csv" in lines[0]
    skipped = pd.read_csv(tmp_path / "reports/ingest/skipped.csv")
    assert list(skipped["reason"]) == ["empty file"]


def test_invalid_params_exit_2_before_any_work(tmp_path):
    res = _run_stage("ingest", tmp_path, {"data": {"layuot": "regex"}})
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("[ingest] invalid parameters:") and "data.layuot: unknown key" in res.stderr
    assert not (tmp_path / "reports").exists()


def test_stage_main_turns_library_errors_into_exit_2_and_keeps_bugs(capsys):
    @stage_main
    def bad_data() -> None:
        raise errors.DataError("x.wav: unreadable")

    with pytest.raises(SystemExit) as ex:
        bad_data()
    assert ex.value.code == 2
    assert capsys.readouterr().err == "[test_stage_errors] x.wav: unreadable\n"

    @stage_main
    def bug() -> None:
        raise KeyError("a bug keeps its traceback")

    with pytest.raises(KeyError):
        bug()


@pytest.mark.parametrize("cls, base", [
    (ConfigError, errors.ConfigError), (LayoutError, errors.DataError), (IngestError, errors.DataError),
    (AudioReadError, errors.DataError), (PathEscapeError, errors.DataError),
    (DenoiseSkipped, errors.DataError), (PredictError, errors.DataError)])
def test_every_library_error_is_an_audiolens_error(cls, base):
    assert issubclass(cls, base) and issubclass(cls, errors.AudiolensError)
    assert issubclass(cls, ValueError)  # callers that caught ValueError keep working


def test_cam_not_applicable_is_a_model_error():
    from audiolens.interpret.cam import CamNotApplicable

    assert issubclass(CamNotApplicable, errors.ModelError)
