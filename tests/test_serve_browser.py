"""`audiolens serve` in a real browser: headless Chromium records from a fake microphone fed by a
WAV (`--use-file-for-fake-audio-capture`), the page sends it, and the verdict appears on the page.

The gate is a small untrained model saved like the pipeline's (the verdict's value does not
matter here, only that the page records, shows progress and renders the server's answer, and
that it is the answer the API gives). A screenshot is saved under `.test-artifacts/`
(or `$AUDIOLENS_TEST_ARTIFACTS`). Skipped only where Chromium or its driver is absent.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import small_cnn, write_wav

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()), reason="Chromium/chromedriver absent")]


def make_gate(root: Path) -> Path:
    """A model dir like the train stage's: model.keras, resolved_params.yaml, train_meta.json."""
    import yaml

    from audiolens.config import Params
    from audiolens.models.registry import save_model

    params = Params()
    sr, f = params.audio.sample_rate, params.features
    shape = (f.n_fft // 2 + 1, int(params.segment.length_s * sr) // f.hop_length + 1)
    models = root / "models"
    models.mkdir(parents=True)
    save_model(small_cnn(shape, n_classes=2), models / "model.keras")
    (models / "resolved_params.yaml").write_text(yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False))
    (models / "train_meta.json").write_text(json.dumps({"class_names": list(params.data.class_names)}))
    return models / "model.keras"


def speechy(seconds: float, sr: int = 16000) -> np.ndarray:
    """Harmonic 'syllables' at ~4 Hz with a wandering pitch and pauses (not steady, not silent)."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = np.clip(np.sin(2 * np.pi * 2.0 * t), 0, None) ** 2
    return (0.3 * y * env / 3 + 0.002 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tmp_path, monkeypatch):
    import uvicorn

    from audiolens.config import Params
    from audiolens.predictor import GateFiles, Predictor
    from audiolens.serve.app import create_app
    from audiolens.serve.run import serve_settings

    model = make_gate(tmp_path / "gate")
    monkeypatch.chdir(tmp_path)  # no reports/ here: the model's own abstention settings, no operating point
    predictor = Predictor(GateFiles(model=model))
    port = free_port()
    settings = serve_settings(Params().serve, port=port)
    srv = uvicorn.Server(uvicorn.Config(create_app(predictor, settings), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", predictor
    srv.should_exit = True
    thread.join(10)


def test_the_page_records_from_the_microphone_and_shows_the_verdict(server, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, predictor = server
    mic = write_wav(tmp_path / "mic.wav", speechy(3.0), 16000)
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic}", "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--window-size=1400,900", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for a driver online
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=str(DRIVER)))
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 90)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready")
        seconds = driver.find_element(By.ID, "seconds")
        assert float(seconds.get_attribute("value")) == 6.0, "the default length is serve.record_seconds"
        seconds.clear()
        seconds.send_keys("2")
        driver.find_element(By.ID, "record").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("done", "error"))
        artifacts = Path(os.environ.get("AUDIOLENS_TEST_ARTIFACTS", Path(__file__).parents[1] / ".test-artifacts"))
        artifacts.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(artifacts / "serve_browser.png"))
        state = driver.find_element(By.TAG_NAME, "body").get_attribute("data-state")
        assert state == "done", driver.find_element(By.ID, "error").text
        decision = driver.find_element(By.ID, "verdict").get_attribute("data-decision")
        assert decision in ("accept", "reject", "abstain")
        assert driver.find_element(By.ID, "decision").text.startswith(decision.upper())
        raw = json.loads(driver.execute_script(
            "return JSON.stringify(window.__lastDocument || null)") or "null")
        assert raw is not None, "the page keeps the server's document"
        r = raw["results"][0]
        assert r["decision"] == decision and r["file"] == "microphone.wav"
        assert 1.5 <= r["duration_s"] <= 2.5, "the page sent the requested length of audio"
        steps = [e.get_attribute("class") for e in driver.find_elements(By.CSS_SELECTOR, "#steps li")]
        assert steps and all(s == "done" for s in steps), steps
        bars = driver.find_elements(By.CSS_SELECTOR, "#chart rect")
        assert len(bars) == r["n_segments"]
        if "explain" in r:
            assert driver.find_element(By.ID, "gradcam").get_attribute("naturalWidth") not in (None, "0")
    finally:
        driver.quit()
