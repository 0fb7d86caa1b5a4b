"""The report in a real browser: headless Chromium renders the first screen and loads every audio player.

Skipped when Chromium, chromedriver or selenium are absent. The 1400 x 900 screenshot is
saved to ``$AUDIOLENS_TEST_ARTIFACTS`` (default ``.test-artifacts/``) as
``report_first_screen.png`` for CI to keep.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from _report_fixtures import make_reports
from audiolens.report import build_report, check_report
from audiolens.report.first_screen import FirstScreenSettings

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1400, 900


def _binary(*names: str) -> str | None:
    return next((p for n in names if (p := shutil.which(n) or (n if Path(n).is_file() else None))), None)


@pytest.fixture(scope="module")
def driver():
    webdriver = pytest.importorskip("selenium.webdriver")
    browser = _binary("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
    chromedriver = _binary("/usr/bin/chromedriver", "chromedriver")
    if browser is None or chromedriver is None:
        pytest.skip("Chromium or chromedriver not installed")
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must not look for drivers online
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={WIDTH},{HEIGHT}",
                "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=webdriver.ChromeService(executable_path=chromedriver), options=opts)
    # the viewport itself is 1400 x 900 (--window-size includes the window's own chrome)
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
    yield d
    d.quit()


def _artifacts() -> Path:
    out = Path(os.environ.get("AUDIOLENS_TEST_ARTIFACTS", ROOT / ".test-artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    return out


VISIBLE_JS = """
const el = document.querySelector(arguments[0]);
if (!el) return null;
const r = el.getBoundingClientRect();
return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, text: el.innerText};
"""

AUDIO_JS = """
return Array.from(document.querySelectorAll('audio')).map(a => ({
  src: a.currentSrc, ready: a.readyState, duration: a.duration, error: a.error ? a.error.code : null}));
"""


def test_first_screen_and_audio_in_chromium(driver, tmp_path):
    reports = make_reports(tmp_path)
    res = build_report(reports_dir=reports, title="audiolens report", project_root=tmp_path, params_path=None,
                       first_screen_settings=FirstScreenSettings(warn_min_segments=100, warn_min_recordings=30))
    assert check_report(reports / "report.html")[0] == []
    driver.get((reports / "report.html").resolve().as_uri())
    assert driver.execute_script("return [window.innerWidth, window.innerHeight]") == [WIDTH, HEIGHT]

    # the first screen: headline metrics with intervals, the baseline, warnings, all inside the viewport
    shot = _artifacts() / "report_first_screen.png"
    driver.save_screenshot(str(shot))
    for sel in ("#headline-metrics", "#warnings", "table.headline tr:nth-child(1) td.cnn",
                "table.headline tr:nth-child(1) td.base", "#operating-point", "#calibration-summary"):
        box = driver.execute_script(VISIBLE_JS, sel)
        assert box is not None, sel
        assert 0 <= box["top"] < box["bottom"] <= HEIGHT and 0 <= box["left"] < box["right"] <= WIDTH, (sel, box)
    cnn = driver.execute_script(VISIBLE_JS, "table.headline tr:nth-child(1) td.cnn")["text"]
    base = driver.execute_script(VISIBLE_JS, "table.headline tr:nth-child(1) td.base")["text"]
    assert cnn == "95.7 % [91.0, 100.0]" and base == "95.7 % [90.0, 100.0]"
    header = driver.execute_script(VISIBLE_JS, "#headline-metrics thead")["text"]
    assert "baseline (logreg_C0.1)" in header and "95 % interval" in header
    assert "Small test set" in driver.execute_script(VISIBLE_JS, "#warnings")["text"]
    assert driver.execute_script("return document.documentElement.scrollWidth") <= WIDTH  # no sideways scrolling

    # the screenshot is a rendered page, not a blank one
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (WIDTH, HEIGHT)
        px = np.asarray(im.convert("L"), dtype=np.float64)
    assert px.std() > 20 and len(np.unique(px)) > 50

    # every audio element loads: metadata read, a positive duration, no media error
    deadline, players = time.monotonic() + 30, []
    while time.monotonic() < deadline:
        players = driver.execute_script(AUDIO_JS)
        if players and all(p["ready"] >= 1 and (p["duration"] or 0) > 0 for p in players):
            break
        time.sleep(0.25)
    assert len(players) == res["audio"] == 6
    bad = [p for p in players if p["ready"] < 1 or not (p["duration"] or 0) > 0 or p["error"] is not None]
    assert bad == []
    assert all(0.9 < p["duration"] < 1.1 for p in players)  # the 1 s clips
    assert sum(p["src"].endswith(".ogg") for p in players) in (0, len(players))
