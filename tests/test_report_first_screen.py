"""The report's first screen, interval lookup, listening panels and smaller media."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest

from _report_fixtures import make_reports
from audiolens.io import write_audio
from audiolens.report import build_report, check_report
from audiolens.report.discover import discover, group_by_question, split_section
from audiolens.report.first_screen import FirstScreenSettings, first_screen
from audiolens.report.listen import listening_panels, mask_words, parse_wav_name
from audiolens.report.media import embedded_image, fixed_ogg_serial, ogg_available, ogg_vorbis
from audiolens.report.values import fmt_value, lookup

SMALL = FirstScreenSettings(warn_min_segments=100, warn_min_recordings=30)


@pytest.mark.parametrize("data, path", [
    ({"accuracy": 0.9, "n": 40, "n_recordings": 12, "ci95": {"accuracy": {"lo": 0.8, "hi": 0.95}}}, "accuracy"),
    ({"accuracy": 0.9, "accuracy_ci95": [0.8, 0.95], "accuracy_n": 40, "n_recordings": 12}, "accuracy"),
    ({"accuracy": 0.9, "accuracy_ci95_lo": 0.8, "accuracy_ci95_hi": 0.95, "n": 40, "n_recordings": 12}, "accuracy"),
    ({"m": {"accuracy": {"value": 0.9, "ci95": {"low": 0.8, "high": 0.95}, "n": 40, "n_recordings": 12}}},
     "m.accuracy"),
    ({"n": 40, "n_recordings": 12, "binary": {"accuracy": 0.9}, "ci95": {"accuracy": {"lo": 0.8, "hi": 0.95}}},
     "binary.accuracy"),
    ({"n": 40, "n_recordings": 12, "single": {"accuracy": 0.9, "ci95": {"accuracy": [0.8, 0.95]}}}, "single.accuracy"),
])
def test_lookup_reads_every_interval_shape(data, path):
    v = lookup(data, path)
    assert (v.value, v.lo, v.hi, v.n, v.n_recordings) == (0.9, 0.8, 0.95, 40, 12)
    assert fmt_value(v, percent=True) == "90.0 % [80.0, 95.0]"


def test_lookup_degrades_to_none_and_differences_read_as_values():
    assert lookup({}, "a.b").value is None and lookup({"a": "x"}, "a").value is None
    assert lookup({"a": float("nan")}, "a").value is None and fmt_value(lookup({}, "a"), percent=True) == "–"
    bare = lookup({"a": 0.5}, "a")
    assert bare.value == 0.5 and not bare.has_ci and bare.n is None
    d = lookup({"diff": {"diff": -0.01, "lo": -0.05, "hi": 0.03, "distinguishable": 0}}, "diff")
    assert d.spans_zero and fmt_value(d, percent=True, signed=True) == "-1.0 pts [-5.0, +3.0]"
    assert not lookup({"a": {"value": 0.1, "ci95": [0.02, 0.2]}}, "a").spans_zero


def test_first_screen_reads_intervals_beside_the_baseline_and_warns(tmp_path):
    fs = first_screen(make_reports(tmp_path), SMALL)
    assert fs["task"].startswith("Binary voice gate: accept “allowed”, reject “rejected”")
    rows = {r["metric"]: r for r in fs["metrics"]["rows"]}
    assert fs["metrics"]["baseline"] == "logreg_C0.1" and fs["metrics"]["any_ci"]
    assert rows["accuracy"]["cnn"] == "95.7 % [91.0, 100.0]" and rows["accuracy"]["n"] == "46 / 16 rec."
    assert rows["accuracy"]["baseline"] == "95.7 % [90.0, 100.0]"
    assert rows["accuracy"]["diff"] == "+0.0 pts [-4.0, +4.0]" and rows["accuracy"]["verdict"] == "not distinguishable"
    assert rows["EER (equal error rate)"]["cnn"] == "3.1 % [0.0, 9.0]"
    assert rows["EER (equal error rate)"]["verdict"] == "CNN better"  # lower EER is better, no interval
    assert rows["ECE (calibration error)"]["cnn"] == "0.036 [0.018, 0.072]"
    gate = dict(fs["gate"])
    assert gate["test FAR / FRR"] == "3.1 % [0.0, 10.0] / 7.1 % [0.0, 20.0] (n = 46)"
    assert "answers 90.0 % of test segments" in gate["abstention"]
    assert [r["method"] for r in fs["calibration"]] == ["single model", "MC dropout", "deep ensemble"]
    assert fs["calibration_columns"] == ["ECE", "ECE debiased", "NLL"] and fs["calibration_n"] == 46
    data = dict(fs["data"])
    assert data["skipped"] == "ingest 2 (unreadable ×1, too short ×1)"
    assert "test 46 from 16 recordings" in data["segments"] and "validation 47" in data["segments"]
    text = " | ".join(t for _, t in fs["warnings"])
    assert "Small test set: 46 segments from 16 recordings" in text
    assert "not distinguishable from the baseline" in text
    assert "Ensemble member 3 is an outlier" in text
    assert "5.0 % of genuine validation recordings are refused" in text and "accepts 5.0 % of generated" in text
    assert "2 file(s) were skipped" in text


def test_first_screen_without_intervals_or_stages(tmp_path):
    fs = first_screen(make_reports(tmp_path, intervals=False, n=400, n_recordings=60, outlier=False), SMALL)
    rows = {r["metric"]: r for r in fs["metrics"]["rows"]}
    assert rows["accuracy"]["cnn"] == "95.7 %" and not fs["metrics"]["any_ci"]
    assert rows["accuracy"]["verdict"] == "tie"
    text = " | ".join(t for _, t in fs["warnings"])
    assert "Small test set" not in text and "outlier" not in text and "The CNN ties with the baseline" in text
    assert first_screen(make_reports(tmp_path / "b"), None)["warnings"][0][1].startswith("The CNN")  # no small-n
    empty = first_screen(tmp_path / "nothing")
    assert empty["empty"] and empty["metrics"]["rows"] == [] and empty["task"] is None
    assert empty["data"] == [("skipped", "nothing skipped")]


def test_listening_panels_label_players_in_words(tmp_path):
    r = make_reports(tmp_path)
    assert parse_wav_name("00_f2_script1_room__2_integrated_gradients_pos_top30_masked_in") == {
        "idx": "00", "id": "f2_script1_room__2", "explainer": "integrated_gradients", "mask": "pos_top30",
        "part": "masked_in"}
    assert parse_wav_name("ex 1_masked") is None
    assert mask_words("top30").startswith("the 30 % most important")
    attribution = next(s for s in discover(r) if s.name == "attribution")
    panels, used = listening_panels(attribution, audio_sources=lambda a: [{"src": a.rel, "mime": "audio/wav"}],
                                    image_src=lambda a: a.rel)
    assert len(panels) == 1 and panels[0]["title"] == "Example 1: f2_script1_room__2"
    assert panels[0]["figure"]["rel"] == "attribution/figures/example_00_f2_script1_room__2.png"
    assert [row["explainer"] for row in panels[0]["rows"]] == ["saliency", "gradcam"]  # registry order
    assert [p["label"] for p in panels[0]["rows"][0]["players"]] == [
        "the whole clip", "what the model used", "what it ignored"]
    assert len(used) == 7  # 6 WAVs + the figure


def test_questions_group_sections_and_cam_moves_to_why(tmp_path):
    secs = split_section(discover(make_reports(tmp_path)), "interpret", "cam/", "interpret_cam")
    groups = {title: names for _, title, _, names in group_by_question([s.name for s in secs])}
    assert groups["How good?"] == ["eval", "baseline"] and groups["How sure?"] == ["uncertainty", "ood"]
    assert groups["Why?"] == ["attribution", "interpret_cam"] and groups["What did it learn?"] == ["interpret", "eda"]
    assert groups["Data and pipeline"] == ["ingest", "clean"]
    cam = next(s for s in secs if s.name == "interpret_cam")
    assert [a.rel for a in cam.artefacts] == ["interpret/cam/allowed.png"]
    assert all(not a.rel.startswith("interpret/cam/") for s in secs if s.name == "interpret" for a in s.artefacts)
    assert group_by_question(["zzz"]) == [("pipeline", "Data and pipeline", group_by_question(["zzz"])[0][2], ["zzz"])]


def test_embedded_images_are_smaller_webp(tmp_path):
    from PIL import Image

    big = tmp_path / "big.png"
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((300, 1600, 3)) * 255).astype(np.uint8)).save(big)
    uri = embedded_image(big, max_width=800)
    assert uri.startswith("data:image/webp;base64,")
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert len(raw) < big.stat().st_size
    with Image.open(io.BytesIO(raw)) as im:
        assert im.size == (800, 150)
    assert embedded_image(big, max_width=800) == uri  # deterministic
    svg = tmp_path / "x.svg"
    svg.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert embedded_image(svg).startswith("data:image/svg+xml;base64,")  # unreadable by PIL: kept


@pytest.mark.skipif(not ogg_available(), reason="libsndfile without OGG Vorbis")
def test_ogg_copies_are_deterministic_and_decodable(tmp_path):
    import soundfile as sf

    t = np.arange(8000) / 8000
    write_audio(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    first = ogg_vorbis(tmp_path / "a.wav", tmp_path / "x/a.ogg").read_bytes()
    second = ogg_vorbis(tmp_path / "a.wav", tmp_path / "y/a.ogg").read_bytes()
    assert first == second and len(first) < (tmp_path / "a.wav").stat().st_size / 3
    y, rate = sf.read(io.BytesIO(first))
    assert rate == 8000 and abs(len(y) - 8000) < 100 and 0.1 < np.abs(y).max() < 0.5
    assert fixed_ogg_serial(first, 7) != first and fixed_ogg_serial(fixed_ogg_serial(first, 7), 1) == first
    with pytest.raises(ValueError):
        fixed_ogg_serial(b"RIFF....")


def test_report_leads_with_the_first_screen(tmp_path):
    r = make_reports(tmp_path)
    res = build_report(reports_dir=r, title="t", project_root=tmp_path, params_path=None, first_screen_settings=SMALL)
    problems, parsed = check_report(r / "report.html")
    assert problems == []
    html = (r / "report.html").read_text()
    order = [f'id="{a}"' for a in ("answer", "headline-metrics", "how-good", "how-sure", "why", "what-learned",
                                   "pipeline", "provenance")]
    assert [html.index(s) for s in order] == sorted(html.index(s) for s in order)
    cnn = '<span class="v">95.7 %</span> <span class="ci">[91.0, 100.0]</span>'
    assert html.index(cnn) < html.index('id="how-good"')
    assert "what the model used" in html and "_masked_in.wav</" not in html  # labelled in words
    assert "Plain CAM is not applicable: layer &#39;embedding&#39;" in html  # the interpret stage's reason
    assert res["html_bytes"] == len(html.encode()) and res["warnings"][0].startswith("Small test set")
    sources = [u for t, u in parsed.refs if t == "source"]
    if ogg_available():
        assert len(sources) == 12 and sum(u.endswith(".ogg") for u in sources) == 6  # OGG first, WAV fallback
        assert res["audio_bytes"] > 0 and all((r / u).is_file() for u in sources)
    # the numbers behind each stage are folded
    assert "<details><summary>numbers: eval/metrics.json</summary>" in html
    json.loads((r / "eval/metrics.json").read_text())  # inputs untouched
