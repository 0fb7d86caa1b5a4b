"""The report library: discovery, rendering, the HTML check, and provenance."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audiolens.io import write_audio
from audiolens.plots import new_figure, save_figure
from audiolens.report import build_report, check_report, revision_info
from audiolens.report.discover import SECTIONS, artefact_kind, discover
from audiolens.report.render import flatten, json_frame, json_tables, markdown_html


def _png(path: Path, k: int = 1) -> None:
    fig, ax = new_figure()
    ax[0, 0].plot(np.arange(10) ** k)
    save_figure(fig, path)


@pytest.fixture
def reports(tmp_path) -> Path:
    r = tmp_path / "reports"
    _png(r / "eda/figures/counts.png")
    _png(r / "eda/figures/spectra.png", 2)
    (r / "eda").mkdir(exist_ok=True)
    (r / "eda/class_summary.json").write_text(json.dumps(
        {"per_class": {"yes": {"n": 3, "entropy_mean": 4.25}, "no": {"n": 5, "entropy_mean": 3.5}}}))
    (r / "eda/tables").mkdir()
    pd.DataFrame({"a": range(50), "b": np.linspace(0, 1, 50)}).to_csv(r / "eda/tables/image_stats.csv", index=False)
    (r / "eda/resolved_params.yaml").write_text("eda:\n  seed: 0\n")
    (r / "eval").mkdir()
    (r / "eval/metrics.json").write_text(json.dumps({"accuracy": 0.93, "macro_f1": 0.9}))
    (r / "eval/notes.md").write_text("# Notes\n\n| a | b |\n|---|---|\n| 1 | <script>x</script> |\n\n- one\n- two\n")
    (r / "eval/plots").mkdir()
    (r / "eval/plots/confusion.csv").write_text("actual,predicted\nno,no\nyes,no\n")
    write_audio(r / "attribution/audio/ex 1_masked.wav", np.zeros(800, np.float32), 8000)
    (r / "attribution/metrics.json").write_text("{not json")
    _png(r / "zzz_custom/thing.png")
    (r / "train").mkdir()
    (r / "train/metrics.json").write_text(json.dumps({"step": 3, "loss": 0.25}))
    for split, losses in (("train", [0.9, 0.5, 0.3]), ("eval", [1.0, 0.7, 0.6])):
        (r / f"train/plots/metrics/{split}").mkdir(parents=True)
        pd.DataFrame({"step": range(3), "loss": losses}).to_csv(
            r / f"train/plots/metrics/{split}/loss.tsv", sep="\t", index=False)
    pd.DataFrame({"step": range(3), "accuracy": [0.5, 0.7, 0.9]}).to_csv(
        r / "train/plots/metrics/train/accuracy.tsv", sep="\t", index=False)
    (r / ".hidden").mkdir()
    (r / ".hidden/x.png").write_bytes(b"")
    (r / "report").mkdir()
    (r / "report/skipped.csv").write_text("path,reason\n")
    return r


def test_discover_orders_known_sections_then_unknown(reports):
    secs = discover(reports)
    names = [s.name for s in secs]
    assert names == ["eda", "train", "eval", "attribution", "zzz_custom"]
    assert [n for n in SECTIONS if n in names] == names[:-1]
    eda = secs[0]
    assert [a.rel for a in eda.of("image")] == ["eda/figures/counts.png", "eda/figures/spectra.png"]
    assert [a.rel for a in eda.of("metrics")] == ["eda/class_summary.json"]
    assert [a.rel for a in eda.of("params")] == ["eda/resolved_params.yaml"]
    assert artefact_kind("plots/x.json") == "table" and artefact_kind("x.json") == "metrics"
    assert artefact_kind("model.keras") is None and artefact_kind(".x/a.png") is None


@pytest.mark.parametrize("embed", [True, False])
def test_report_references_resolve_and_html_parses(reports, tmp_path, embed):
    (tmp_path / "params.yaml").write_text("eda:\n  seed: 0\n")
    res = build_report(reports_dir=reports, title="t <&>", project_root=tmp_path,
                       params_path=tmp_path / "params.yaml", embed_images=embed, max_rows=10)
    html_path = reports / "report.html"
    problems, parsed = check_report(html_path)
    assert problems == []
    assert res["images"] == 4 and res["audio"] == 1 and res["metrics"] == 4  # + learning curves
    assert (reports / "report/figures/train_curves.png").is_file()
    imgs = [u for t, u in parsed.refs if t == "img"]
    assert len(imgs) == 4
    assert all(u.startswith(("data:image/png;base64,", "data:image/webp;base64,")) for u in imgs) == embed
    # an OGG Vorbis copy first (where libsndfile writes it), the original as the fallback
    assert [u for t, u in parsed.refs if t == "source"][-1] == "attribution/audio/ex 1_masked.wav"
    assert [u for t, u in parsed.refs if t == "source"][:-1] in ([], ["report/audio/attribution/audio/ex 1_masked.ogg"])
    assert parsed.tags.get("audio") == 1 and parsed.tags.get("script", 0) == 0
    html = html_path.read_text()
    assert "t &lt;&amp;&gt;" in html and "&lt;script&gt;" in html
    assert "40 more rows" in html  # 50-row CSV cut to 10, the rest linked
    assert "0.93" in html and "<th>entropy_mean</th>" in html  # per-class dict as a wide table
    assert [p["path"] for p in res["problems"]] == ["attribution/metrics.json"]
    assert "skipped.csv" not in html  # the report's own folder is not a section
    assert html.index("train curves") < html.index("loss.tsv")  # curves drawn, logs folded below


def test_summary_md_has_headline_tables(reports, tmp_path):
    build_report(reports_dir=reports, title="audiolens report", project_root=tmp_path, params_path=None)
    md = (reports / "summary.md").read_text()
    assert "## Exploratory analysis" in md and "## Evaluation" in md
    assert "| accuracy | 0.93 |" in md
    assert "**eda/class_summary.json** `per_class`" in md
    assert "| name | n | entropy_mean |" in md and "| no | 5 | 3.5 |" in md
    assert "_attribution/metrics.json: unreadable JSON_" in md


def test_baseline_headline_heads_the_report_and_summary(reports, tmp_path):
    line = "CNN test accuracy 70.0 % vs best baseline (knn1) 80.0 %. The CNN does NOT beat the baseline."
    (reports / "eval/headline.md").write_text(line + "\n")
    build_report(reports_dir=reports, title="audiolens report", project_root=tmp_path, params_path=None)
    md = (reports / "summary.md").read_text()
    assert md.splitlines()[2] == f"**{line}**"  # right under the title
    html = (reports / "report.html").read_text()
    assert html.index("does NOT beat the baseline") < html.index("<nav>")  # in the header
    # the uncertainty stage's comparison sentence follows it, "not distinguishable" included
    (reports / "uncertainty").mkdir(exist_ok=True)
    more = "Method comparison: ensemble vs single: no distinguishable difference (every 95 % interval spans 0)."
    (reports / "uncertainty/headline.md").write_text(more + "\n")
    build_report(reports_dir=reports, title="audiolens report", project_root=tmp_path, params_path=None)
    assert (reports / "summary.md").read_text().splitlines()[2] == f"**{line} {more}**"


def test_report_is_deterministic(reports, tmp_path):
    build_report(reports_dir=reports, title="audiolens report", project_root=tmp_path)
    first = (reports / "report.html").read_bytes()
    build_report(reports_dir=reports, title="audiolens report", project_root=tmp_path)
    assert (reports / "report.html").read_bytes() == first


def test_check_report_finds_broken_references(tmp_path):
    (tmp_path / "ok.png").write_bytes(b"x")
    (tmp_path / "r.html").write_text(
        '<html><body id="top"><img src="ok.png"><img src="missing.png"><a href="#top">t</a>'
        '<a href="#nope">n</a><script src="https://cdn.example/x.js"></script><div><p>x</div></body></html>')
    problems, _ = check_report(tmp_path / "r.html")
    text = "\n".join(problems)
    assert "missing.png" in text and "#nope" in text and "network" in text and "unexpected </div>" in text
    assert "ok.png" not in text


def test_markdown_and_flatten():
    html = markdown_html("## Head\n\ntext with `code` and **bold**\n\n| k | v |\n|--|--|\n| a \\| b | 2 |\n")
    assert "<h4>Head</h4>" in html and "<code>code</code>" in html and "<strong>bold</strong>" in html
    assert "<td>a | b</td>" in html
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": [{"e": 1}]}) == {"a.b": 1, "a.c": "1, 2", "d[0].e": 1}
    tabs = json_tables({"acc": 0.9, "per_class": {"a": {"p": 1, "r": 2}, "b": {"p": 3, "r": 4}},
                        "odd": {"a": {"p": 1}, "b": {"q": 2}}})
    assert [t for t, _ in tabs] == ["", "per_class"]
    assert tabs[0][1]["key"].tolist() == ["acc", "odd.a.p", "odd.b.q"]
    assert tabs[1][1].to_dict("records") == [{"name": "a", "p": 1, "r": 2}, {"name": "b", "p": 3, "r": 4}]
    report = json_tables({"accuracy": 0.5, "no": {"precision": 0.1, "recall": 0.2},
                          "yes": {"precision": 0.3, "recall": 0.4}})
    assert report[0][1].to_dict("records") == [{"key": "accuracy", "value": "0.5"}]
    assert report[1][0] == "no, yes" and report[1][1]["recall"].tolist() == [0.2, 0.4]
    recs = json_frame([{"x": 1, "y": {"z": 2}}, {"x": 3, "y": {"z": 4}}])
    assert list(recs.columns) == ["x", "y.z"] and recs["y.z"].tolist() == [2, 4]


def test_revision_info_from_git_and_dvc_lock(tmp_path):
    assert revision_info(tmp_path)["git_commit"] is None
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e", "PATH": "/usr/bin:/bin"}
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages:\n  eda:\n    cmd: x\n    outs:\n"
                                       "    - path: reports/eda\n      md5: 0123456789abcdef0123.dir\n")
    for cmd in (["init", "-q"], ["add", "dvc.lock"], ["commit", "-qm", "x"]):
        subprocess.run(["git", *cmd], cwd=tmp_path, check=True, env=env)
    info = revision_info(tmp_path)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert info["git_commit"] == head and not info["git_describe"].endswith("dirty")
    assert info["dvc_outs"] == [{"stage": "eda", "path": "reports/eda", "hash": "0123456789ab"}]
    (tmp_path / "dvc.lock").write_text("changed\n")
    assert revision_info(tmp_path)["git_describe"].endswith("-dirty")


def test_report_stage_script(reports, tmp_path):
    import sys

    script = Path(__file__).resolve().parents[1] / "stages" / "report.py"
    (tmp_path / "params.yaml").write_text("report:\n  title: Stage title\n")
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "<title>Stage title</title>" in (reports / "report.html").read_text()
    skipped = pd.read_csv(reports / "report/skipped.csv")
    assert skipped["path"].tolist() == ["attribution/metrics.json"]
    assert check_report(reports / "report.html")[0] == []


def test_find_curves_reads_dvclive_layout(reports):
    from audiolens.report.curves import find_curves

    train = next(s for s in discover(reports) if s.name == "train")
    curves = find_curves(train)
    assert list(curves) == ["accuracy", "loss"] and sorted(curves["loss"]) == ["eval", "train"]
    assert curves["loss"]["eval"]["value"].tolist() == [1.0, 0.7, 0.6]
