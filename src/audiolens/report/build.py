"""Assemble ``reports/report.html`` and ``reports/summary.md`` from the stage outputs under ``reports/``.

This module reads the files and prepares what each section shows; the layout is in the
Jinja2 templates ``report/templates/report.html.j2`` and ``summary.md.j2``.

The page leads with the answer (:mod:`audiolens.report.first_screen`), then one section per
question (:data:`~audiolens.report.discover.QUESTIONS`), raw tables folded.

The HTML needs no network: CSS is inline, figures are embedded (data URIs, downsized WebP:
:mod:`audiolens.report.media`) or linked relatively, audio is linked relatively (``<audio>``
players; an OGG Vorbis copy under ``report/audio/`` first, the original as fallback), so the
``reports/`` folder can be copied or zipped as a whole. No build time is written, so the same
inputs give the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from markupsafe import Markup

from audiolens.io import atomic_write_text
from audiolens.report.curves import find_curves, plot_curves
from audiolens.report.discover import Artefact, Section, caption, discover, group_by_question, split_section
from audiolens.report.first_screen import FirstScreenSettings, first_screen
from audiolens.report.listen import listening_panels
from audiolens.report.media import embedded_image, ogg_available, ogg_vorbis
from audiolens.report.render import audio_mime, environment, json_tables, markdown_html, read_table_file

__all__ = ["revision_info", "build_report", "render_html", "render_summary_md"]

def _git(args: list[str], cwd: Path) -> str | None:
    try:
        res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def revision_info(project_root: str | Path = ".") -> dict[str, Any]:
    """Git commit/branch/dirty state and the DVC lock's hashes of the project at ``project_root``.

    Returns
    -------
    dict
        ``git_commit``, ``git_describe`` (with ``-dirty``), ``git_branch`` (None outside a
        git repo), ``dvc_lock_sha256`` (None without ``dvc.lock``) and ``dvc_outs``: a list
        of ``{stage, path, hash}`` (first 12 hex digits of each out's md5).
    """
    root = Path(project_root)
    info: dict[str, Any] = {
        "git_commit": _git(["rev-parse", "HEAD"], root),
        "git_describe": _git(["describe", "--always", "--dirty"], root),
        "git_branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], root),
        "dvc_lock_sha256": None, "dvc_outs": [],
    }
    lock = root / "dvc.lock"
    if lock.is_file():
        raw = lock.read_bytes()
        info["dvc_lock_sha256"] = hashlib.sha256(raw).hexdigest()
        try:
            doc = yaml.safe_load(raw)
        except yaml.YAMLError:
            doc = None
        stages = doc.get("stages") if isinstance(doc, dict) else None
        stages = stages if isinstance(stages, dict) else {}
        for name, st in sorted(stages.items()):
            for out in (st or {}).get("outs", []) or []:
                h = out.get("md5") or out.get("hash") or ""
                info["dvc_outs"].append({"stage": name, "path": out.get("path", ""), "hash": str(h)[:12]})
    return info


def _metrics(sec: Section, problems: list[dict]) -> list[dict[str, Any]]:
    """Each metrics JSON of a section as titled tables (or the reason it could not be read)."""
    out = []
    for a in sec.of("metrics"):
        try:
            tables, error = json_tables(json.loads(a.path.read_text())), ""
        except (ValueError, OSError) as exc:
            tables, error = [], str(exc)[:120]
            problems.append({"path": a.rel, "reason": "unreadable JSON", "detail": str(exc)[:200]})
        out.append({"rel": a.rel, "caption": caption(a.rel), "tables": tables, "error": error})
    return out


def _cam_note(sections: list[Section], summary: Path) -> None:
    """Say under the class-activation maps when plain CAM was not applicable (the interpret stage's reason)."""
    try:
        cam = json.loads(summary.read_text()).get("cam")
    except (OSError, ValueError, AttributeError):
        return
    for sec in sections:
        if sec.name == "interpret_cam" and isinstance(cam, str) and cam.startswith("not applicable"):
            sec.blurb += f" Plain CAM is {cam}."


def _tables(sec: Section, max_rows: int, problems: list[dict]) -> list[dict[str, Any]]:
    """The first ``max_rows`` rows of each CSV/TSV/JSON table of a section."""
    out = []
    for a in sec.of("table"):
        item = {"rel": a.rel, "name": a.rel.split("/", 1)[-1], "frame": None, "total": 0, "error": ""}
        try:
            item["frame"], item["total"] = read_table_file(a.path, max_rows=max_rows)
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            item["error"] = str(exc)[:120]
            problems.append({"path": a.rel, "reason": "unreadable table", "detail": str(exc)[:200]})
        out.append(item)
    return out


SHORT_MARKDOWN = 600  # characters: a stage's markdown note up to this long is shown, longer ones folded


class _Media:
    """Figures (embedded, downsized) and audio (an OGG Vorbis copy first, the original as fallback)."""

    def __init__(self, reports_dir: Path | None, *, embed: bool):
        self.reports_dir, self.embed = reports_dir, embed
        self.ogg = reports_dir is not None and ogg_available()

    def image(self, a: Artefact) -> str:
        return embedded_image(a.path) if self.embed else a.rel

    def audio(self, a: Artefact) -> list[dict[str, str]]:
        original = {"src": a.rel, "mime": audio_mime(a.rel)}
        if not self.ogg or a.path.suffix.lower() not in (".wav", ".flac"):
            return [original]
        rel = (Path("report/audio") / a.rel).with_suffix(".ogg").as_posix()
        try:
            ogg_vorbis(a.path, self.reports_dir / rel)
        except (OSError, RuntimeError, ValueError):
            return [original]
        return [{"src": rel, "mime": 'audio/ogg; codecs="vorbis"'}, original]


def _section_view(sec: Section, *, media: _Media, max_rows: int, max_images: int, max_audio: int,
                  problems: list[dict]) -> dict[str, Any]:
    """What the templates show of one section (every file read here, none in the template)."""
    panels, used = listening_panels(sec, audio_sources=media.audio, image_src=media.image)
    figs = [a for a in sec.of("image") if a.rel not in used]
    images = [{"rel": a.rel, "title": caption(a.rel), "src": media.image(a) if i < max_images else ""}
              for i, a in enumerate(figs)]
    audio = [{"rel": a.rel, "title": caption(a.rel), "sources": media.audio(a) if i < max_audio else []}
             for i, a in enumerate(x for x in sec.of("audio") if x.rel not in used)]
    notes = [{"caption": caption(a.rel), "rel": a.rel, "html": Markup(markdown_html(text)),
              "short": len(text) <= SHORT_MARKDOWN}
             for a in sec.of("markdown") for text in [a.path.read_text(errors="replace")]]
    return {
        "name": sec.name, "title": sec.title, "blurb": sec.blurb,
        "metrics": _metrics(sec, problems), "panels": panels,
        "figures": images[:max_images], "more_figures": images[max_images:],
        "audio": audio[:max_audio], "more_audio": audio[max_audio:],
        "markdown": notes,
        "tables": _tables(sec, max_rows, problems),
        "params": [{"rel": a.rel, "text": a.path.read_text(errors="replace")} for a in sec.of("params")],
    }


def render_html(sections: list[Section], *, title: str, revision: dict[str, Any] | None = None,
                params_text: str | None = None, embed_images: bool = True, max_rows: int = 20,
                max_images: int = 60, max_audio: int = 40, problems: list[dict] | None = None,
                headline: str | None = None, reports_dir: str | Path | None = None,
                first: dict[str, Any] | None = None) -> str:
    """The report as one HTML string, from ``templates/report.html.j2`` (arguments: :func:`build_report`).

    ``reports_dir`` is where compressed audio copies are written (``report/audio/``; None: the
    original files are linked); ``first`` is :func:`~audiolens.report.first_screen.first_screen`.
    """
    problems = problems if problems is not None else []
    media = _Media(None if reports_dir is None else Path(reports_dir), embed=embed_images)
    views = {s.name: _section_view(s, media=media, max_rows=max_rows, max_images=max_images,
                                   max_audio=max_audio, problems=problems) for s in sections}
    questions = [{"id": anchor, "title": q_title, "blurb": blurb, "sections": [views[n] for n in names]}
                 for anchor, q_title, blurb, names in group_by_question(list(views))]
    rows = [(k, "" if v is None else str(v)) for k, v in (revision or {}).items() if k != "dvc_outs"]
    return environment().get_template("report.html.j2").render(
        title=title, headline=headline, questions=questions, first=first, revision=revision,
        params_text=params_text, max_rows=max_rows, revision_rows=pd.DataFrame(rows, columns=["item", "value"]),
        dvc_outs=pd.DataFrame((revision or {}).get("dvc_outs") or []))


def render_summary_md(sections: list[Section], *, title: str, revision: dict[str, Any] | None = None,
                      max_rows: int = 20, report_name: str = "report.html", headline: str | None = None,
                      first: dict[str, Any] | None = None) -> str:
    """The first screen's metrics and warnings, then each section's top-level JSON metrics, as markdown
    for a review comment."""
    views = [{"title": s.title, "metrics": _metrics(s, [])} for s in sections]
    text = environment().get_template("summary.md.j2").render(
        title=title, headline=headline, sections=views, revision=revision, max_rows=max_rows,
        report_name=report_name, first=first)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def build_report(*, reports_dir: str | Path = "reports", title: str,
                 project_root: str | Path = ".", params_path: str | Path | None = "params.yaml",
                 embed_images: bool = True, max_rows: int = 20, max_images: int = 60,
                 max_audio: int = 40, html_name: str = "report.html", md_name: str = "summary.md",
                 first_screen_settings: FirstScreenSettings | None = None) -> dict[str, Any]:
    """Write ``<reports_dir>/report.html`` and ``<reports_dir>/summary.md`` atomically.

    Parameters
    ----------
    reports_dir : path
        Folder holding one sub-folder per stage (``eda``, ``eval``, ...).
    project_root : path
        Where ``git`` and ``dvc.lock`` are looked up for the revision.
    params_path : path, optional
        The params file shown in the provenance section (None: not shown).
    embed_images : bool
        Embed figures as data URIs (a single portable file) instead of relative links.
    max_rows, max_images, max_audio : int
        Per table / per section limits; what is left out is linked, never dropped silently.
    first_screen_settings : FirstScreenSettings, optional
        Small-n warning thresholds of the first screen (None: no small-n warning).

    The page opens with the answer (:mod:`audiolens.report.first_screen`), then one section per
    question (:data:`~audiolens.report.discover.QUESTIONS`). Embedded figures are downsized and
    re-encoded (:mod:`audiolens.report.media`); audio is linked relatively, through an OGG Vorbis
    copy under ``<reports_dir>/report/audio/`` (the original as the fallback source).
    Step-indexed TSV logs (DVCLive) are drawn as learning curves into
    ``<reports_dir>/report/figures/<section>_curves.png`` and shown first in their section.

    Returns
    -------
    dict
        ``sections`` (names), counts of ``images``/``audio``/``tables``/``metrics``,
        ``html_bytes``, ``audio_bytes`` (the compressed copies), ``warnings`` (the first
        screen's) and ``problems`` (unreadable files: ``path, reason, detail``).
    """
    reports_dir = Path(reports_dir)
    sections = split_section(discover(reports_dir, exclude=(html_name, md_name)), "interpret", "cam/", "interpret_cam")
    own = reports_dir / "report" / "figures"
    shutil.rmtree(reports_dir / "report" / "audio", ignore_errors=True)  # copies of this build only
    _cam_note(sections, reports_dir / "interpret" / "summary.json")
    for sec in sections:
        curves = find_curves(sec)
        if curves:
            path = plot_curves(curves, out=own / f"{sec.name}_curves.png")
            sec.artefacts.insert(0, Artefact(path.resolve(), path.relative_to(reports_dir).as_posix(), "image"))
    revision = revision_info(project_root)
    params_text = None
    if params_path is not None and Path(params_path).is_file():
        params_text = Path(params_path).read_text()
    first = first_screen(reports_dir, first_screen_settings)
    problems: list[dict] = []
    # the CNN against the baseline (evaluate), then the method comparison and warnings (uncertainty):
    # the sentences those stages wrote, with "not distinguishable" where an interval spans 0
    heads = [reports_dir / name / "headline.md" for name in ("eval", "uncertainty")]
    headline = " ".join(f.read_text().strip() for f in heads if f.is_file()) or None
    html = render_html(sections, title=title, revision=revision, params_text=params_text,
                       embed_images=embed_images, max_rows=max_rows, max_images=max_images,
                       max_audio=max_audio, problems=problems, headline=headline, reports_dir=reports_dir,
                       first=first)
    atomic_write_text(reports_dir / html_name, html)
    atomic_write_text(reports_dir / md_name, render_summary_md(sections, title=title, revision=revision,
                                                               max_rows=max_rows, report_name=html_name,
                                                               headline=headline, first=first))
    count = {k: sum(len(s.of(k)) for s in sections) for k in ("image", "audio", "table", "metrics")}
    return {"sections": [s.name for s in sections], "images": count["image"], "audio": count["audio"],
            "tables": count["table"], "metrics": count["metrics"], "html_bytes": len(html.encode()),
            "audio_bytes": sum(f.stat().st_size for f in (reports_dir / "report" / "audio").rglob("*.ogg")),
            "warnings": [text for _, text in first["warnings"]], "problems": problems}
