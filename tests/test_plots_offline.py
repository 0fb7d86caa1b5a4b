"""`dvc plots show` pages render with no network: vega, vega-lite and vega-embed are vendored.

The page is opened in headless Chromium with every non-loopback request sent to a dead proxy;
the control case (DVC's default CDN page, same browser flags) must draw nothing, so the test
fails if the network is reachable or the vendored template is not used.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, sh

CHROMIUM = Path("/usr/bin/chromium")
TEMPLATE = Path("vendor/vega/dvc_plots.html")
DVC_YAML = """\
plots:
  - Loss:
      template: linear
      x: step
      y:
        loss.tsv: loss
  - Confusion:
      template: confusion
      x: actual
      y:
        confusion.csv: predicted
"""


def render_dom(page: Path, profile: Path) -> str:
    """Open ``page`` offline in headless Chromium and return the DOM after scripts ran."""
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.fixture()
def plots_project(repo_root: Path, tmp_path: Path) -> tuple[Path, dict]:
    """A minimal DVC project with the repo's ``.dvc/config`` and template, a line and a confusion plot."""
    env = {"DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)}
    sh([str(BIN / "dvc"), "init", "-q", "--no-scm"], tmp_path, env)
    shutil.copy(repo_root / ".dvc" / "config", tmp_path / ".dvc" / "config")
    (tmp_path / TEMPLATE).parent.mkdir(parents=True)
    shutil.copy(repo_root / TEMPLATE, tmp_path / TEMPLATE)
    (tmp_path / "loss.tsv").write_text("step\tloss\n0\t1.0\n1\t0.6\n2\t0.4\n")
    (tmp_path / "confusion.csv").write_text("actual,predicted\na,a\na,b\nb,b\nb,b\n")
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    return tmp_path, env


def test_vendored_template_is_current_and_configured(repo_root: Path):
    res = subprocess.run([sys.executable, str(repo_root / "vendor/vega/build_template.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    config = (repo_root / ".dvc" / "config").read_text()
    assert re.search(r"html_template\s*=\s*\.\./vendor/vega/dvc_plots\.html", config)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent")
def test_dvc_plots_show_renders_offline(plots_project: tuple[Path, dict]):
    root, env = plots_project
    sh([str(BIN / "dvc"), "plots", "show", "-o", "offline"], root, env)
    page = (root / "offline" / "index.html").read_text()
    assert not re.search(r"<script[^>]+src=", page), "the page still loads a script from elsewhere"
    dom = render_dom(root / "offline" / "index.html", root / "profile-offline")
    for plot_id in ("Loss", "Confusion"):
        block = dom.split(f'<div id="{plot_id}"', 1)[1].split('<div id="', 1)[0]
        assert re.search(r'<canvas width="[1-9]\d*" height="[1-9]\d*"', block), f"{plot_id} not drawn"

    # control: DVC's default page (vega from a CDN) draws nothing under the same flags
    sh([str(BIN / "dvc"), "config", "--unset", "plots.html_template"], root, env)
    sh([str(BIN / "dvc"), "plots", "show", "-o", "cdn"], root, env)
    assert "cdn.jsdelivr.net" in (root / "cdn" / "index.html").read_text()
    dom = render_dom(root / "cdn" / "index.html", root / "profile-cdn")
    assert "<canvas" not in dom and "<svg" not in dom
