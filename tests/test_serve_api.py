"""`audiolens serve`: the API's limits and answers, with a stand-in scorer (no model needed).

The equality of the API's answers with `audiolens predict --json` on the demo model is checked
end to end in tests/test_pipeline_e2e.py.
"""
from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import write_wav

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from audiolens.serve.app import ServeSettings, create_app  # noqa: E402
from audiolens.serve.run import check_binding, is_loopback  # noqa: E402
from audiolens.errors import ConfigError  # noqa: E402

SETTINGS = dict(host="127.0.0.1", port=8000, token=None, max_upload_mb=1.0, max_duration_s=5.0, record_seconds=2.0,
                workers=1, queue=1, timeout_s=10.0, explain=True)


class FakeScorer:
    """Records what it saw; answers like Predictor.score/document."""

    def __init__(self, delay: float = 0.0, error: dict | None = None):
        self.delay, self.error, self.seen, self.gate = delay, error, [], threading.Event()

    def score(self, path, *, name, progress=None, explain_dir=None):
        self.seen.append({"path": Path(path), "exists": Path(path).is_file(), "folder": Path(path).parent,
                          "name": name, "explain_dir": explain_dir})
        for s in ("read", "clean", "segment", "score"):
            progress and progress(s)
        time.sleep(self.delay)
        if self.error:
            return {"file": name, "error": self.error}
        r = {"file": name, "decision": "accept", "label": "allowed", "confidence": 0.9, "segments": []}
        if explain_dir is not None:
            explain_dir.mkdir(parents=True)
            (explain_dir / "a.png").write_bytes(b"\x89PNG fake")
            (explain_dir / "a.wav").write_bytes(b"RIFF fake")
            r["explain"] = {"segment": 0, "gradcam_png": str(explain_dir / "a.png"),
                            "masked_in_wav": str(explain_dir / "a.wav")}
        return r

    def document(self, results):
        return {"results": results, "class_names": ["rejected", "allowed"]}

    def card(self):
        return {"task": "voice gate (binary)", "class_names": ["rejected", "allowed"]}


def _wav_bytes(tmp_path: Path, seconds: float = 1.0, sr: int = 8000) -> bytes:
    rng = np.random.default_rng(0)
    return write_wav(tmp_path / "in.wav", 0.1 * rng.standard_normal(int(seconds * sr)), sr).read_bytes()


def client(scorer=None, **over) -> tuple[TestClient, FakeScorer]:
    scorer = scorer or FakeScorer()
    return TestClient(create_app(scorer, ServeSettings(**{**SETTINGS, **over}))), scorer


def test_page_and_assets_are_served_locally_without_a_cdn():
    c, _ = client()
    page = c.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    srcs = [s for s in page.text.split('"') if s.startswith(("http:", "https:", "//"))]
    assert srcs == [], f"the page refers to another host: {srcs}"
    for asset in ("/static/app.js", "/static/wav.js", "/static/app.css"):
        r = c.get(asset)
        assert r.status_code == 200 and len(r.content) > 100
        text = r.text.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace name, never fetched
        assert "http://" not in text and "https://" not in text
    assert c.get("/api/config").json()["record_seconds"] == 2.0


def test_a_wav_is_scored_in_a_temp_folder_that_is_removed(tmp_path):
    c, scorer = client()
    r = c.post("/api/predict", files={"file": ("../../etc/evil name.wav", _wav_bytes(tmp_path), "audio/wav")})
    assert r.status_code == 200, r.text
    seen = scorer.seen[0]
    assert seen["exists"] and seen["path"].name == "upload.wav", "the request's file name is never a path"
    assert seen["name"] == "evil name.wav"
    assert not seen["folder"].exists(), "the request's temp folder must be removed"
    assert r.json()["results"][0]["decision"] == "accept"


def test_explain_comes_back_inline_and_leaves_nothing(tmp_path):
    c, scorer = client()
    r = c.post("/api/predict?explain=1", files={"file": ("a.wav", _wav_bytes(tmp_path))})
    ex = r.json()["results"][0]["explain"]
    assert ex["gradcam_png"].startswith("data:image/png;base64,")
    assert ex["masked_in_wav"].startswith("data:audio/wav;base64,")
    assert not scorer.seen[0]["explain_dir"].exists()


@pytest.mark.parametrize("payload, status, words", [
    (b"", 400, "empty"),
    (b"MThd\x00\x00\x00\x06 this is midi, not audio", 415, "not a WAV"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is no real header", 422, "cannot read"),
])
def test_bad_uploads_get_a_clear_4xx(payload, status, words):
    c, scorer = client()
    r = c.post("/api/predict", files={"file": ("x.wav", payload, "audio/wav")})
    assert r.status_code == status and words in r.json()["detail"]
    assert all(not s["folder"].exists() for s in scorer.seen)


def test_content_type_and_extension_are_not_trusted(tmp_path):
    c, _ = client()
    r = c.post("/api/predict", files={"file": ("song.mp3", _wav_bytes(tmp_path), "audio/mpeg")})
    assert r.status_code == 200  # a WAV by content, whatever it is called
    r = c.post("/api/predict", files={"file": ("a.wav", b"<html>" + b"x" * 100, "audio/wav")})
    assert r.status_code == 415


def test_oversized_and_too_long_uploads_are_413(tmp_path):
    c, scorer = client(max_upload_mb=0.05)  # 52 kB
    big = _wav_bytes(tmp_path, seconds=4.0)  # 64 kB at 8 kHz 16-bit
    r = c.post("/api/predict", files={"file": ("a.wav", big)})
    assert r.status_code == 413 and "serve.max_upload_mb" in r.json()["detail"]
    c, scorer = client(max_duration_s=2.0)
    r = c.post("/api/predict", files={"file": ("a.wav", _wav_bytes(tmp_path, seconds=3.0))})
    assert r.status_code == 413 and "serve.max_duration_s" in r.json()["detail"]
    assert scorer.seen == [], "refused before scoring"


def test_unreadable_audio_from_the_scorer_is_422_silence_is_an_answer(tmp_path):
    c, _ = client(FakeScorer(error={"code": 3, "message": "a.wav: cannot read audio: NaN samples"}))
    r = c.post("/api/predict", files={"file": ("a.wav", _wav_bytes(tmp_path))})
    assert r.status_code == 422 and "NaN" in r.json()["detail"]
    c, _ = client(FakeScorer(error={"code": 4, "message": "a.wav: no sound left after cleaning (silence)"}))
    r = c.post("/api/predict", files={"file": ("a.wav", _wav_bytes(tmp_path))})
    assert r.status_code == 200 and r.json()["results"][0]["error"]["code"] == 4


def test_progress_streams_the_steps_then_the_document(tmp_path):
    c, _ = client()
    r = c.post("/api/predict?progress=1", files={"file": ("a.wav", _wav_bytes(tmp_path))})
    lines = [json.loads(x) for x in r.text.splitlines()]
    steps = [x["step"] for x in lines if "step" in x]
    assert steps == ["received", "read", "clean", "segment", "score"]
    assert lines[-1]["status"] == 200 and lines[-1]["document"]["results"][0]["decision"] == "accept"


def test_a_full_queue_answers_429_and_frees_up(tmp_path):
    c, scorer = client(FakeScorer(delay=1.0), workers=1, queue=1)
    data = _wav_bytes(tmp_path)
    codes: list[int] = []

    def post():
        codes.append(c.post("/api/predict", files={"file": ("a.wav", data)}).status_code)

    threads = [threading.Thread(target=post) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes).count(200) >= 1 and set(codes) <= {200, 429} and 429 in codes
    assert c.post("/api/predict", files={"file": ("a.wav", data)}).status_code == 200, "slots are released"


def test_timeout_is_503(tmp_path):
    c, _ = client(FakeScorer(delay=1.5), timeout_s=0.3)
    r = c.post("/api/predict", files={"file": ("a.wav", _wav_bytes(tmp_path))})
    assert r.status_code == 503 and "serve.timeout_s" in r.json()["detail"]


def test_a_token_guards_the_api_but_not_the_page(tmp_path):
    c, _ = client(token="s3cret")
    assert c.get("/").status_code == 200 and c.get("/api/config").json()["token_required"] is True
    assert c.get("/api/model").status_code == 401
    assert c.get("/api/model", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/model", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    r = c.post("/api/predict", files={"file": ("a.wav", _wav_bytes(tmp_path))})
    assert r.status_code == 401


def test_binding_is_loopback_unless_a_token_is_set():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    s = ServeSettings(**{**SETTINGS, "host": "0.0.0.0"})
    with pytest.raises(ConfigError, match="serve.token"):
        check_binding(s, insecure=False)
    check_binding(s, insecure=True)
    check_binding(ServeSettings(**{**SETTINGS, "host": "0.0.0.0", "token": "t"}), insecure=False)
