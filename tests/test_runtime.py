"""Stage runtime: numerics settings applied before TensorFlow's first op."""
from __future__ import annotations

import logging
import os

from audiolens.runtime import apply_numerics


def test_cpu_isa_cap_is_set_unless_the_environment_sets_one(monkeypatch, caplog):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    apply_numerics(deterministic=False, cpu_isa="AVX2")
    import os

    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    with caplog.at_level(logging.WARNING):
        apply_numerics(deterministic=False, cpu_isa="AVX2")
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "SSE41"
    assert "overrides numerics.cpu_isa=AVX2" in caplog.text


def test_no_cap_leaves_the_environment_alone(monkeypatch):
    import os

    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    apply_numerics(deterministic=False, cpu_isa=None)
    assert "ONEDNN_MAX_CPU_ISA" not in os.environ


def test_numpy_dispatch_targets_above_the_cap_are_disabled():
    from audiolens.runtime import numpy_features_to_disable

    targets = ["X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"]  # numpy 2.4 on x86-64
    assert numpy_features_to_disable("AVX2", targets) == ["X86_V4", "AVX512_ICL", "AVX512_SPR"]
    assert numpy_features_to_disable("SSE41", targets) == targets
    assert numpy_features_to_disable("AVX512_CORE", targets) == []
    assert numpy_features_to_disable(None, targets) == []


def test_a_stage_script_runs_with_numpy_capped_at_numerics_cpu_isa(tmp_path):
    """Whatever this CPU is, after start_stage no numpy kernel above numerics.cpu_isa is active
    (on an AVX-512 machine the script is restarted with NPY_DISABLE_CPU_FEATURES)."""
    import json
    import subprocess
    import sys

    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "probe.py").write_text(
        "import json, os\n"
        "from audiolens.runtime import start_stage\n"
        "params, log = start_stage('probe')\n"
        "from numpy._core._multiarray_umath import __cpu_features__ as f, __cpu_dispatch__ as d\n"
        "print(json.dumps({'active': [t for t in d if f.get(t)], 'onednn': os.environ.get('ONEDNN_MAX_CPU_ISA')}))\n")
    (tmp_path / "params.yaml").write_text("numerics:\n  cpu_isa: AVX2\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "ONEDNN_MAX_CPU_ISA")}
    res = subprocess.run([sys.executable, "stages/probe.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert [t for t in out["active"] if t.startswith("AVX512") or t == "X86_V4"] == []


def test_a_stage_run_inside_another_process_is_never_restarted(tmp_path, monkeypatch):
    """runpy.run_path(stage, run_name="__main__") in a test must not exec over the test process."""
    import runpy
    import sys

    (tmp_path / "stages").mkdir()
    script = tmp_path / "stages" / "probe2.py"
    script.write_text("from audiolens.runtime import start_stage\nparams, log = start_stage('probe2')\nDONE = True\n")
    (tmp_path / "params.yaml").write_text("numerics:\n  cpu_isa: SSE41\n")  # a cap below every x86-64 CPU
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    monkeypatch.setattr(sys, "argv", [str(script)])
    assert runpy.run_path(str(script), run_name="__main__")["DONE"]  # still here: not replaced by execve
