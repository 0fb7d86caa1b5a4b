"""Faults (issue 14): SIGTERM cleans a stage's temp outputs, a rerun after SIGKILL removes the
stale ones, and pool workers end with their parent."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from audiolens.io import atomic_dir, remove_stale_temps
from audiolens.runtime import declared_outputs

SRC = Path(__file__).resolve().parents[1] / "src"
DEAD_PID = 4194304 + 17  # above Linux's pid_max: never a live process

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc as on Linux")

STAGE = textwrap.dedent('''
    import os, sys, time
    from pathlib import Path
    from audiolens.io import atomic_dir, atomic_path
    from audiolens.parallel import ExecutorSettings, ordered_map
    from audiolens.runtime import stage_main

    def work(x):
        Path("pids", str(os.getpid())).touch()
        time.sleep(0.2)
        return x

    @stage_main
    def main():
        Path("pids").mkdir(exist_ok=True)
        with atomic_dir("out/features") as tmp:
            (tmp / "a.npy").write_bytes(b"x" * 100000)
            with atomic_path("out/metrics.json") as t2:
                t2.write_text("{}")
                if sys.argv[1] == "pool":
                    for i, _ in enumerate(ordered_map(work, list(range(400)), chunksize=1,
                                                     executor=ExecutorSettings(n_jobs=2, scheduler="processes", inline_below_s=0.0))):
                        if i == 3:
                            print("ready", flush=True)
                else:
                    print("ready", flush=True)
                    time.sleep(120)

    if __name__ == "__main__":
        main()
''')


def _start(tmp_path: Path, mode: str) -> subprocess.Popen:
    (tmp_path / "fake.py").write_text(STAGE)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "fake.py", mode], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "ready", (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _workers(tmp_path: Path) -> list[int]:
    return [int(p.name) for p in (tmp_path / "pids").iterdir()]


def _wait_gone(pids, timeout_s=10.0) -> list[int]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.mark.parametrize("mode", ["sleep", "pool"])
def test_sigterm_removes_temp_outputs_and_workers(tmp_path, mode):
    proc = _start(tmp_path, mode)
    assert any(p.name.startswith(".features.") for p in (tmp_path / "out").iterdir())  # the temp exists
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "[fake] terminated (SIGTERM)" in err
    assert os.listdir(tmp_path / "out") == []  # no temp dir, no temp file, no half output
    if mode == "pool":
        assert _workers(tmp_path) and _wait_gone(_workers(tmp_path)) == []


def test_sigkill_of_the_parent_ends_its_pool_workers(tmp_path):
    proc = _start(tmp_path, "pool")
    workers = _workers(tmp_path)
    assert workers and all(_alive(p) for p in workers)
    proc.kill()
    proc.wait(timeout=30)
    assert _wait_gone(workers) == []  # not orphaned, blocked on the task pipe
    # the killed run left its temps; the writers' next use of the same outputs removes them
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert left and all(n.startswith((".features.", ".metrics.json.")) for n in left)
    with atomic_dir(tmp_path / "out" / "features") as tmp:
        (tmp / "b").write_text("ok")
    assert not any(p.name.startswith(".features.") for p in (tmp_path / "out").iterdir())


def test_stage_start_removes_stale_temps_of_its_declared_outputs(tmp_path):
    out = tmp_path / "out"
    (out / f".features.{DEAD_PID}.abc").mkdir(parents=True)
    (out / f".features.{DEAD_PID}.abc" / "big.npy").write_bytes(b"x" * 1000)
    (out / ".metrics.json.k2j4_x8q.json").write_text("{")  # an old-style temp (no pid)
    (out / f".metrics.json.{os.getpid()}.live.json").write_text("{")  # a live writer's: kept
    (out / ".unrelated").write_text("keep")
    (tmp_path / "dvc.yaml").write_text(textwrap.dedent("""
        stages:
          fake:
            cmd: python fake.py
            outs:
              - out/features
              - out/metrics.json:
                  cache: false
    """))
    (tmp_path / "fake.py").write_text(textwrap.dedent('''
        from audiolens.runtime import stage_main

        @stage_main
        def main():
            pass

        if __name__ == "__main__":
            main()
    '''))
    res = subprocess.run([sys.executable, "fake.py"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(SRC)},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(out)) == sorted([f".metrics.json.{os.getpid()}.live.json", ".unrelated"])
    assert "stale temp" in res.stderr


def test_declared_outputs_expand_foreach_templates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models" / "ensemble" / "1").mkdir(parents=True)
    (tmp_path / "models" / "ensemble" / "2").mkdir(parents=True)
    Path("dvc.yaml").write_text(textwrap.dedent("""
        stages:
          train_member:
            foreach: [1, 2]
            do:
              cmd: python stages/train_member.py --member ${item}
              outs:
                - models/ensemble/${item}
                - reports/member_${item}.json:
                    cache: false
    """))
    assert declared_outputs("train_member") == [Path("models/ensemble/1"), Path("models/ensemble/2")]
    assert declared_outputs("nope") == [] and declared_outputs("x", "missing.yaml") == []


def test_remove_stale_temps_keeps_live_and_unrelated(tmp_path):
    target = tmp_path / "features"
    dead = tmp_path / f".features.{DEAD_PID}.x"
    live = tmp_path / f".features.{os.getpid()}.y"
    other = tmp_path / f".features.csv.{DEAD_PID}.z"  # another output's temp
    for p in (dead, live):
        p.mkdir()
    other.write_text("")
    assert remove_stale_temps(target) == [dead]
    assert live.exists() and other.exists()
