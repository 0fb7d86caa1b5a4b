"""End to end: copy the repo to a temp dir, run `dvc repro` on a tiny profile, check every stage."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from conftest import BIN, copy_project, project_env, sh

pytestmark = pytest.mark.slow


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def project(repo_root, tmp_path_factory):
    """A fresh copy of the working tree as its own git + DVC repo, with the tiny profile, reproduced."""
    tiny = yaml.safe_load((repo_root / "tests/profiles/tiny.yaml").read_text())
    reuse = os.environ.get("AUDIOLENS_E2E_PROJECT")
    if reuse:  # for iterating on these tests: a project reproduced by an earlier run (they modify it)
        return {"dir": Path(reuse), "env": project_env(), "first": None, "seconds": None, "tiny": tiny}
    dest = tmp_path_factory.mktemp("e2e") / "proj"
    env = copy_project(repo_root, dest, params=tiny)
    t0 = time.perf_counter()
    first = sh([str(BIN / "dvc"), "repro"], dest, env, timeout=2400)
    elapsed = time.perf_counter() - t0
    return {"dir": dest, "env": env, "first": first, "seconds": elapsed, "tiny": tiny}


def test_every_stage_ran_and_every_out_exists(project):
    d = project["dir"]
    lock = yaml.safe_load((d / "dvc.lock").read_text())["stages"]
    names = sh([str(BIN / "dvc"), "stage", "list", "--name-only"], d, project["env"]).stdout.split()
    assert "report" in names and "train_member@1" in names
    for name in names:
        assert name in lock, f"stage {name} never ran"
        for out in lock[name].get("outs", []):
            assert (d / out["path"]).exists(), f"stage {name}: missing output {out['path']}"
    status = sh([str(BIN / "dvc"), "status"], d, project["env"]).stdout
    assert "up to date" in status, status


def test_second_repro_is_a_noop(project):
    d = project["dir"]
    t0 = time.perf_counter()
    res = sh([str(BIN / "dvc"), "repro"], d, project["env"])
    took = time.perf_counter() - t0
    assert "Running stage" not in res.stdout, res.stdout
    print(f"second dvc repro: {took:.2f} s")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_forced_retraining_is_byte_identical(project):
    """`dvc repro -f` of train, evaluate and uncertainty reproduces weights and metrics byte for byte."""
    d, env = project["dir"], project["env"]
    files = sorted([*(d / "models").rglob("*.keras"), *(d / "models").rglob("*.h5"),
                    *(d / "models").rglob("train_meta.json"), *(d / "reports").rglob("metrics.json")])
    before = {p.relative_to(d): _sha(p) for p in files}
    assert any(p.suffix == ".keras" for p in before) and any(p.name == "metrics.json" for p in before)
    for stage in ("train", "evaluate", "uncertainty"):
        sh([str(BIN / "dvc"), "repro", "--force", "--single-item", stage], d, env)
    after = {p: _sha(d / p) for p in before}
    changed = sorted(str(p) for p in before if before[p] != after[p])
    assert changed == [], f"forced rerun changed {changed}"
    # and so DVC sees nothing new downstream
    assert "up to date" in sh([str(BIN / "dvc"), "status"], d, env).stdout


def test_metrics_match_the_reference_within_tolerance(project, repo_root):
    """A fresh tiny run has the reference's data-determined counts exactly, and valid learned figures.

    Learned values of this tiny run are not compared: they differ between CPUs far beyond any
    useful tolerance (tests/reference/tiny_metrics.json "measured"; README "Reproducibility").
    """
    import importlib.util
    import math

    spec = importlib.util.spec_from_file_location("tiny_metrics", repo_root / "tests/reference/tiny_metrics.py")
    ref_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref_mod)
    ref = json.loads((repo_root / "tests/reference/tiny_metrics.json").read_text())
    for key in ref["exact"]:  # preprocessing is exact: the same test segments
        got = float(ref_mod.lookup(project["dir"], key))
        assert got == ref["values"][key], (key, got, ref["values"][key])
    for key, (lo, hi) in ref["in_range"].items():
        got = float(ref_mod.lookup(project["dir"], key))
        assert math.isfinite(got) and lo <= got <= hi, (key, got, lo, hi)


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


def test_key_outputs_of_every_stage(project):
    d = project["dir"]
    for rel in ["data/interim/clean/clean_log.csv", "data/interim/segments/segments.csv",
                "data/interim/segments/tails.csv", "data/interim/augmented/segments.csv",
                "data/processed/features/index.csv", "data/processed/features/meta.json",
                "data/processed/split/split.csv", "data/processed/split/counts.csv",
                "reports/eda/class_summary.json", "models/model.keras", "models/weights/initial.weights.h5",
                "models/resolved_params.yaml", "reports/eval/predictions.csv", "reports/eval/threshold.json",
                "reports/eval/headline.md", "reports/baseline/metrics.json", "reports/baseline/predictions.csv",
                "reports/uncertainty/abstain.json", "reports/interpret/retrieval.json",
                "reports/paramspace/robustness.json", "reports/attribution/metrics.json",
                "models/ood.npz", "reports/ood/metrics.json", "reports/ood/details.json", "reports/ood/recordings.csv",
                "reports/report.html", "reports/summary.md", "reports/headline.json"]:
        assert (d / rel).is_file(), rel
    split = pd.read_csv(d / "data/processed/split/split.csv", dtype=str)
    segs = pd.read_csv(d / "data/processed/features/index.csv", dtype=str).merge(split[["segment_id", "split"]], on="segment_id")
    assert set(segs[segs.augmented == "True"].split) <= {"train", "unused"}  # never val/test
    used = segs[segs.split != "unused"]
    assert used.groupby("group").split.nunique().max() == 1  # no recording in two splits
    metrics = json.loads((d / "reports/eval/metrics.json").read_text())
    assert {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc"} <= set(metrics)
    assert 0.0 <= metrics["accuracy"] <= 1.0
    head = json.loads((d / "reports/headline.json").read_text())
    assert head["accuracy"] == metrics["accuracy"] and head["n"] == metrics["n"]
    assert head["eer"] == metrics["binary"]["eer"]  # the demo gate is binary
    assert head["ece"] == json.loads((d / "reports/uncertainty/metrics.json").read_text())["single"]["ece"]
    # the CNN's margin over the best baseline, on the same test segments
    base = json.loads((d / "reports/baseline/metrics.json").read_text())
    margin = metrics["baseline_margin"]
    assert margin["baseline"] == base["best"] and base["selected_on"] == "val"
    assert margin["accuracy"] == pytest.approx(metrics["accuracy"] - base["accuracy"])
    assert margin["recording_accuracy"] == pytest.approx(
        metrics["recording"]["mean_prob"]["accuracy"] - base["recording"]["mean_prob"]["accuracy"])
    # the operating threshold was picked on validation and is the one the test FAR/FRR use
    op = json.loads((d / "reports/eval/threshold.json").read_text())
    assert op["chosen_on"] == "validation" and op["method"] == "eer"
    assert metrics["binary"]["threshold"] == op["threshold"]
    assert (d / "reports/eval/headline.md").read_text().strip() in (d / "reports/summary.md").read_text()


def test_report_renders_without_broken_references(project):
    from audiolens.report import check_report

    problems, _ = check_report(project["dir"] / "reports/report.html")
    assert problems == []
    html = (project["dir"] / "reports/report.html").read_text()
    for section in ["eda", "baseline", "eval", "uncertainty", "interpret", "attribution", "paramspace"]:
        assert f'id="{section}"' in html or f"id='{section}'" in html, section


def predict(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "audiolens"), "predict", *args], cwd=project["dir"], env=project["env"],
                          capture_output=True, text=True, timeout=600)


PREDICT_RESULT_KEYS = {"file": str, "method": str, "decision": str, "label": str, "confidence": float,
                       "probabilities": dict, "uncertainty": dict, "n_segments": int, "duration_s": float,
                       "sound_s": float, "segments": list, "ood": dict}


def _pipeline_recordings(d: Path) -> pd.DataFrame:
    """Test recordings with the pipeline's own segment probabilities (reports/eval/predictions.csv)."""
    pred = pd.read_csv(d / "reports/eval/predictions.csv", dtype={"segment_id": str, "recording_id": str})
    manifest = pd.read_csv(d / "data/interim/ingest/manifest.csv", dtype=str)
    return pred.merge(manifest[["id", "path"]].rename(columns={"id": "recording_id"}), on="recording_id")


def test_predict_scores_recordings_exactly_like_the_pipeline(project):
    """`audiolens predict` on a raw test recording gives the pipeline's own probabilities.

    No learned outcome is asserted: the CLI must reproduce, segment by segment, the
    probabilities the evaluate stage computed for the same recording, and its decision must
    follow those probabilities and the threshold, whatever the tiny model learned.
    """
    d = project["dir"]
    pred = _pipeline_recordings(d)
    picks = [g for _, g in pred.groupby("true", sort=True)]  # one recording of each class
    picks = [g[g.recording_id == g.recording_id.iloc[0]] for g in picks]
    files = [str(d / "data/raw/demo" / g.path.iloc[0]) for g in picks]
    res = predict(project, *files, "--json", "--method", "single", "--threshold", "0")
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["class_names"] == ["rejected", "allowed"]
    assert out["gate"] == {"method": "single", "score": "max_prob", "threshold": 0.0}
    t = json.loads((d / "reports/eval/threshold.json").read_text())["threshold"]  # picked on validation
    assert out["accept"] == {"threshold": t, "source": "reports/eval/threshold.json", "positive": "allowed"}
    for g, r in zip(picks, out["results"]):
        for key, typ in PREDICT_RESULT_KEYS.items():
            assert isinstance(r[key], typ), (key, r)
        assert {"score", "threshold", "max_prob", "entropy"} <= set(r["uncertainty"])
        seg = g.sort_values("segment_id", key=lambda s: s.str.rsplit("__", n=1).str[-1].astype(int))
        assert r["n_segments"] == len(seg), (r["file"], r["n_segments"], len(seg))
        # segment by segment, the same probabilities as the pipeline (float32 round-off only)
        np.testing.assert_allclose([s["confidence"] for s in r["segments"]], seg.confidence, atol=1e-4)
        assert [s["label"] for s in r["segments"]] == seg.pred.tolist()
        # the recording is the mean of its segments, and the decision follows it
        p_allowed = seg.prob_allowed.mean()
        assert r["probabilities"]["allowed"] == pytest.approx(p_allowed, abs=1e-4)
        assert r["confidence"] == pytest.approx(max(p_allowed, 1 - p_allowed), abs=1e-4)
        if not r["ood"]["passed"]:  # the out-of-distribution check overrides the classifier
            assert r["decision"] == "abstain" and r["reason"] in ("out of distribution", "no speech"), r
        elif abs(p_allowed - t) > 1e-3:  # a tie is decided by float round-off: skip only that
            assert r["decision"] == ("accept" if p_allowed >= t else "reject")
    # the abstention threshold is applied to the same confidence: above it, every answer abstains
    res = predict(project, *files, "--json", "--method", "single", "--threshold", "1.01")
    assert [r["decision"] for r in json.loads(res.stdout)["results"]] == ["abstain", "abstain"]


def test_predict_exit_codes_follow_the_input(project):
    d = project["dir"]
    rng = np.random.default_rng(0)
    sf.write(d / "noise.wav", (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32), 16000)
    sf.write(d / "silence.wav", np.zeros(16000 * 3, np.float32), 16000)
    (d / "broken.wav").write_bytes(b"RIFF nonsense")
    for name, code in [("noise.wav", 4), ("silence.wav", 4), ("broken.wav", 3), ("missing.wav", 3)]:
        res = predict(project, name)
        assert res.returncode == code, (name, res.stdout, res.stderr[-2000:])
        assert name in res.stdout and "ERROR" in res.stdout


def test_predict_gate_uses_the_uncertainty_stage_settings_and_explains(project):
    d = project["dir"]
    pred = _pipeline_recordings(d)
    wav = d / "data/raw/demo" / pred.path.iloc[0]
    res = predict(project, str(wav), "--json", "--explain", "explain")
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    gate = json.loads((d / "reports/uncertainty/abstain.json").read_text())
    assert out["gate"] == {k: gate[k] for k in ("method", "score", "threshold")}
    r = out["results"][0]
    assert r["method"] == gate["method"]
    u = r["uncertainty"]
    # abstain exactly when the gate's score is on the wrong side of its threshold
    sc = u["score"]  # the gate's score, or max_prob where that score does not exist for the method
    # scores are "higher = less certain": u["max_prob"] is 1 - confidence; a max_prob
    # threshold is given as the probability itself
    assert u["max_prob"] == pytest.approx(1 - r["confidence"], abs=1e-9)
    wrong_side = r["confidence"] < gate["threshold"] if sc == "max_prob" else u[sc] > gate["threshold"]
    assert (r["decision"] == "abstain") == (wrong_side or not r["ood"]["passed"]), r
    if not wrong_side and r["ood"]["passed"]:
        assert r["decision"] == ("accept" if r["label"] == "allowed" else "reject")
    assert (d / r["explain"]["gradcam_png"]).is_file() and (d / r["explain"]["masked_in_wav"]).is_file()


def test_ood_stage_fits_the_check_on_validation(project):
    """models/ood.npz + reports/ood: the threshold lets >= gate.pass_rate of validation recordings pass,
    and >= 200 generated non-speech clips went through the whole gate."""
    d = project["dir"]
    m = json.loads((d / "reports/ood/metrics.json").read_text())
    assert m["val_pass_rate"] >= 0.99 and m["n_val"] >= 1
    assert m["n_generated"] >= 200 and 0 < m["n_generated_scored"] <= m["n_generated"]
    assert m["auroc_generated"] is None or 0.0 <= m["auroc_generated"] <= 1.0
    with np.load(d / "models/ood.npz", allow_pickle=False) as z:
        assert float(z["threshold"]) > 0 and bool(z["require_speech"])
    rows = pd.read_csv(d / "reports/ood/recordings.csv")
    assert len(rows[rows.set.str.startswith("generated:")]) == m["n_generated"]
    accepted = rows[rows.decision == "accept"]  # whatever the tiny model does, nothing accepted failed a check
    assert accepted.ood_passed.astype(bool).all() and accepted.speech_passed.astype(bool).all()
    assert (rows.set == "unseen_speakers").any()  # new demo speakers (gate.unseen_speakers) were scored


def test_predict_never_accepts_tones_and_says_why(project):
    """Tones at several frequencies and on/off rates: refused (exit 4/5) or ABSTAIN with the reason, never ACCEPT."""
    d = project["dir"]
    sr = 16000
    t = np.arange(4 * sr) / sr
    files = []
    for i, (f, rate) in enumerate([(150, 0), (440, 0), (1000, 3.0), (2500, 5.0), (300, 4.0), (700, 8.0)]):
        y = 0.5 * np.sin(2 * np.pi * f * t)
        if rate:  # tone bursts: the level moves, so "steady noise" does not catch them before the check
            y *= ((t * rate) % 1.0 < 0.5)
        files.append(f"tone_{i}.wav")
        sf.write(d / files[-1], y.astype(np.float32), sr)
    res = predict(project, *files, "--json")
    out = json.loads(res.stdout)
    for r in out["results"]:
        assert r.get("decision") != "accept", r
        if "error" not in r:
            assert r["decision"] == "abstain" and r["reason"] in ("out of distribution", "no speech"), r
            assert set(r["ood"]) >= {"passed", "score", "threshold", "method", "speech"} and not r["ood"]["passed"]
    assert any("error" not in r for r in out["results"])  # some reached the check
    text = predict(project, *files).stdout
    assert "ACCEPT" not in text and ("out of distribution" in text or "no speech" in text)


@pytest.mark.parametrize("abstain", [False, True])
def test_serve_api_answers_exactly_like_predict_json(project, abstain):
    """`POST /api/predict` returns the `predict --json` document (one code path): accept and reject
    answers, and abstentions (abstention threshold above 1), field for field; the model card
    carries the operating point and the test metrics."""
    from fastapi.testclient import TestClient

    from audiolens.config import Params
    from audiolens.predictor import GateFiles, Predictor
    from audiolens.serve.app import create_app
    from audiolens.serve.run import serve_settings

    d = project["dir"]
    pred = _pipeline_recordings(d)
    picks = [g.path.iloc[0] for _, g in pred.groupby("true", sort=True)]
    files = [str(d / "data/raw/demo" / p) for p in picks]
    threshold = "1.01" if abstain else "0"
    res = predict(project, *files, "--json", "--method", "single", "--threshold", threshold)
    assert res.returncode == 0, res.stderr[-3000:]
    cli = json.loads(res.stdout)
    gate = GateFiles(model=d / "models/model.keras", config=None, gate=d / "reports/uncertainty/abstain.json",
                     operating_point=d / "reports/eval/threshold.json", eval_metrics=d / "reports/eval/metrics.json",
                     method="single", threshold=float(threshold), accept_threshold=None, min_seconds=0.25)
    app = create_app(Predictor(gate), serve_settings(Params().serve))
    with TestClient(app) as client:
        for f, expected in zip(files, cli["results"]):
            r = client.post("/api/predict", files={"file": (Path(f).name, Path(f).read_bytes())})
            assert r.status_code == 200, r.text
            doc = r.json()
            assert doc["results"][0] == {**expected, "file": Path(f).name}
            assert {k: v for k, v in doc.items() if k not in ("results", "accept")} == \
                {k: v for k, v in cli.items() if k not in ("results", "accept")}
            assert doc["accept"]["threshold"] == cli["accept"]["threshold"]
        decisions = {r["decision"] for r in cli["results"]}  # threshold 0: no abstention for uncertainty
        assert decisions == {"abstain"} if abstain else \
            all(r["decision"] in ("accept", "reject") or r.get("reason") for r in cli["results"])
        card = client.get("/api/model").json()
        metrics = json.loads((d / "reports/eval/metrics.json").read_text())
        assert card["test"]["accuracy"] == metrics["accuracy"] and card["test"]["n"] == metrics["n"]
        assert card["accept"]["threshold"] == cli["accept"]["threshold"] and card["class_names"] == cli["class_names"]


def test_experiments_change_metrics_in_dvc_metrics_diff(project):
    """`dvc exp run -S` variants, a queued run, `dvc exp show`, `dvc metrics diff`, `dvc plots diff`."""
    d, env = project["dir"], project["env"]
    dvc = str(BIN / "dvc")
    sh(["git", "add", "-A"], d, env)
    sh(["git", "commit", "-qm", "baseline results"], d, env)

    def back_to_baseline() -> None:
        sh(["git", "reset", "-q", "--hard", "HEAD"], d, env)
        sh([dvc, "checkout", "-q", "--force"], d, env)

    thr = sh([dvc, "exp", "run", "-n", "thr", "-S", "evaluate.threshold=0.3"], d, env).stdout
    assert "Running stage 'evaluate'" in thr and "Running stage 'train'" not in thr  # only what depends on it
    back_to_baseline()
    sh([dvc, "exp", "run", "-n", "mel", "-S", "features.kind=mel"], d, env)
    back_to_baseline()
    diff = json.loads(sh([dvc, "metrics", "diff", "thr", "mel", "--json"], d, env).stdout)
    assert set(diff) == {"reports/headline.json"}, diff  # the only top-level metrics file
    assert any(v.get("diff") for v in diff["reports/headline.json"].values()), diff
    details = ["reports/eval/metrics.json", "reports/uncertainty/metrics.json"]
    diff = json.loads(sh([dvc, "metrics", "diff", "thr", "mel", "--json", "--targets", *details], d, env).stdout)
    changed = {(path, k) for path, ms in diff.items() for k, v in ms.items() if v.get("diff")}
    assert any(p == "reports/eval/metrics.json" for p, _ in changed), diff
    assert any(p == "reports/uncertainty/metrics.json" for p, _ in changed), diff
    sh([dvc, "exp", "run", "--queue", "-n", "queued", "-S", "evaluate.threshold=0.7"], d, env)
    sh([dvc, "queue", "start"], d, env)
    deadline = time.time() + 600
    while time.time() < deadline:
        status = sh([dvc, "queue", "status"], d, env).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    assert "Success" in status, status
    show = sh([dvc, "exp", "show", "--json"], d, env).stdout
    assert all(name in show for name in ("thr", "mel", "queued"))
    # the README's table command: headline metrics, whole, at 120 columns
    table = sh([dvc, "exp", "show", "--no-pager", "--drop", ".*[./]|Created|State|Executor"], d, {**env, "COLUMNS": "120"}).stdout
    header = next(line for line in table.splitlines() if "Experiment" in line).split()
    assert {"n", "accuracy", "balanced_accuracy", "f1_macro", "eer", "ece", "margin"} <= set(header), table
    assert "…" not in table and all(name in table for name in ("thr", "mel", "queued")), table
    sh([dvc, "plots", "diff", "thr", "mel", "-o", str(d / "plots_diff")], d, env)
    assert (d / "plots_diff" / "index.html").is_file()
