"""Assemble ``reports/report.html`` and ``reports/summary.md`` from the stage outputs under ``reports/``.

The HTML needs no network: CSS is inline, figures are embedded (data URIs) or linked
relatively, audio is linked relatively (``<audio>`` players), so the ``reports/`` folder
can be copied or zipped as a whole. No build time is written, so the same inputs give
the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from audiolens.io import atomic_write_text
from audiolens.report.curves import find_curves, plot_curves
from audiolens.report.discover import Artefact, Section, caption, discover
from audiolens.report.render import (audio_html, frame_html, frame_markdown, image_html, json_tables,
                                     markdown_html, read_table_file)

__all__ = ["revision_info", "build_report", "render_html", "render_summary_md"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#20232a;color:#eee;padding:1em 2em}header h1{margin:0 0 .3em 0}
header p{margin:.2em 0;font-size:.9em;color:#bbb}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:.5em 2em;z-index:1}
nav a{margin-right:1em;text-decoration:none;color:#0b5cad;font-size:.9em}
main{padding:0 2em 3em 2em;max-width:1400px}section{margin-top:2em}
h2{border-bottom:2px solid #0b5cad;padding-bottom:.2em}.blurb{color:#555;margin-top:-.4em}
.grid{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;background:#fff;border:1px solid #e3e3e3;padding:.5em}
figure img{max-width:640px;max-height:520px;display:block}figcaption{font-size:.8em;color:#555;margin-top:.3em}
.tablewrap{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:.82em;margin:.4em 0;background:#fff}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;white-space:nowrap}th{background:#f0f3f7}
details{margin:.4em 0}summary{cursor:pointer;color:#0b5cad}.note{font-size:.8em;color:#777}
.audio{display:inline-flex;flex-direction:column;margin:.3em 1em .3em 0;font-size:.8em}
pre{background:#fff;border:1px solid #ddd;padding:.6em;overflow-x:auto;font-size:.8em}
.warn{color:#a40000}
"""


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


def _metrics_block(sec: Section, *, max_rows: int, problems: list[dict]) -> str:
    parts = []
    for a in sec.of("metrics"):
        try:
            tables = json_tables(json.loads(a.path.read_text()))
        except (ValueError, OSError) as exc:
            problems.append({"path": a.rel, "reason": "unreadable JSON", "detail": str(exc)[:200]})
            parts.append(f'<p class="warn">{escape(a.rel)}: unreadable JSON ({escape(str(exc)[:120])})</p>')
            continue
        parts.append(f"<h3>{escape(caption(a.rel))}</h3>")
        for name, frame in tables:
            parts.append((f'<p class="note">{escape(name)}</p>' if name else "")
                         + frame_html(frame.head(max_rows), total=len(frame), source=a.rel))
    return "\n".join(parts)


def _section_html(sec: Section, *, embed_images: bool, max_rows: int, max_images: int,
                  max_audio: int, problems: list[dict]) -> str:
    out = [f'<section id="{escape(sec.name)}"><h2>{escape(sec.title)}</h2>']
    if sec.blurb:
        out.append(f'<p class="blurb">{escape(sec.blurb)} <span class="note">(reports/{escape(sec.name)}/)</span></p>')
    out.append(_metrics_block(sec, max_rows=max_rows, problems=problems))
    images = sec.of("image")
    if images:
        figs = [image_html(a.path, a.rel, embed=embed_images, title=caption(a.rel)) for a in images[:max_images]]
        out.append('<div class="grid">' + "".join(figs) + "</div>")
        if len(images) > max_images:
            links = ", ".join(f'<a href="{escape(a.rel)}">{escape(caption(a.rel))}</a>' for a in images[max_images:])
            out.append(f'<p class="note">{len(images) - max_images} more figures: {links}</p>')
    audio = sec.of("audio")
    if audio:
        out.append("<h3>Audio</h3><div>" + "".join(audio_html(a.rel, title=a.rel.split("/", 1)[-1])
                                                     for a in audio[:max_audio]) + "</div>")
        if len(audio) > max_audio:
            links = ", ".join(f'<a href="{escape(a.rel)}">{escape(a.rel)}</a>' for a in audio[max_audio:])
            out.append(f'<p class="note">{len(audio) - max_audio} more recordings: {links}</p>')
    for a in sec.of("markdown"):
        out.append(f"<h3>{escape(caption(a.rel))}</h3>" + markdown_html(a.path.read_text(errors="replace")))
    for a in sec.of("table"):
        try:
            frame, total = read_table_file(a.path, max_rows=max_rows)
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            problems.append({"path": a.rel, "reason": "unreadable table", "detail": str(exc)[:200]})
            out.append(f'<p class="warn">{escape(a.rel)}: unreadable ({escape(str(exc)[:120])})</p>')
            continue
        out.append(f'<details><summary>{escape(a.rel.split("/", 1)[-1])} ({total} rows)</summary>'
                   + frame_html(frame, total=total, source=a.rel) + "</details>")
    for a in sec.of("params"):
        out.append(f"<details><summary>parameters this stage ran with ({escape(a.rel)})</summary>"
                   f"<pre>{escape(a.path.read_text(errors='replace'))}</pre></details>")
    out.append("</section>")
    return "\n".join(p for p in out if p)


def _provenance_html(revision: dict[str, Any] | None, params_text: str | None) -> str:
    out = ['<section id="provenance"><h2>Provenance</h2>']
    if revision:
        rows = [(k, "" if v is None else str(v)) for k, v in revision.items() if k != "dvc_outs"]
        out.append(frame_html(pd.DataFrame(rows, columns=["item", "value"])))
        if revision.get("dvc_outs"):
            out.append("<details><summary>DVC outputs (dvc.lock)</summary>"
                       + frame_html(pd.DataFrame(revision["dvc_outs"])) + "</details>")
    if params_text:
        out.append(f"<details open><summary>params.yaml</summary><pre>{escape(params_text)}</pre></details>")
    out.append("</section>")
    return "\n".join(out)


def render_html(sections: list[Section], *, title: str, revision: dict[str, Any] | None = None,
                params_text: str | None = None, embed_images: bool = True, max_rows: int = 20,
                max_images: int = 60, max_audio: int = 40, problems: list[dict] | None = None) -> str:
    """The report as one HTML string (see :func:`build_report` for the arguments)."""
    problems = problems if problems is not None else []
    nav = "".join(f'<a href="#{escape(s.name)}">{escape(s.title)}</a>' for s in sections)
    nav += '<a href="#provenance">Provenance</a>'
    rev = ""
    if revision and revision.get("git_describe"):
        rev = f"<p>git {escape(str(revision['git_describe']))} on {escape(str(revision.get('git_branch')))}</p>"
    body = "\n".join(_section_html(s, embed_images=embed_images, max_rows=max_rows, max_images=max_images,
                                   max_audio=max_audio, problems=problems) for s in sections)
    if not sections:
        body = '<p class="warn">No stage outputs found under reports/.</p>'
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{escape(title)}</h1>{rev}<p>{len(sections)} sections</p></header>"
            f"<nav>{nav}</nav><main>{body}\n{_provenance_html(revision, params_text)}</main></body></html>\n")


def render_summary_md(sections: list[Section], *, title: str, revision: dict[str, Any] | None = None,
                      max_rows: int = 20, report_name: str = "report.html") -> str:
    """Headline tables (each section's top-level JSON metrics) as markdown, for a review comment."""
    lines = [f"# {title}", ""]
    if revision and revision.get("git_describe"):
        lines += [f"Built from git `{revision['git_describe']}`"
                  + (f", dvc.lock `{revision['dvc_lock_sha256'][:12]}`" if revision.get("dvc_lock_sha256") else "")
                  + f". Full report: [{report_name}]({report_name}).", ""]
    for sec in sections:
        metrics = sec.of("metrics")
        if not metrics:
            continue
        lines += [f"## {sec.title}", ""]
        for a in metrics:
            try:
                tables = json_tables(json.loads(a.path.read_text()))
            except (ValueError, OSError):
                lines += [f"_{a.rel}: unreadable JSON_", ""]
                continue
            for name, frame in tables:
                lines += [f"**{a.rel}**" + (f" `{name}`" if name else ""), "", frame_markdown(frame.head(max_rows))]
                if len(frame) > max_rows:
                    lines.append(f"\n_{len(frame) - max_rows} more rows in `{a.rel}`_")
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def build_report(*, reports_dir: str | Path = "reports", title: str,
                 project_root: str | Path = ".", params_path: str | Path | None = "params.yaml",
                 embed_images: bool = True, max_rows: int = 20, max_images: int = 60,
                 max_audio: int = 40, html_name: str = "report.html", md_name: str = "summary.md"
                 ) -> dict[str, Any]:
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

    Step-indexed TSV logs (DVCLive) are drawn as learning curves into
    ``<reports_dir>/report/figures/<section>_curves.png`` and shown first in their section.

    Returns
    -------
    dict
        ``sections`` (names), counts of ``images``/``audio``/``tables``/``metrics``,
        ``html_bytes`` and ``problems`` (unreadable files: ``path, reason, detail``).
    """
    reports_dir = Path(reports_dir)
    sections = discover(reports_dir, exclude=(html_name, md_name))
    own = reports_dir / "report" / "figures"
    for sec in sections:
        curves = find_curves(sec)
        if curves:
            path = plot_curves(curves, out=own / f"{sec.name}_curves.png")
            sec.artefacts.insert(0, Artefact(path.resolve(), path.relative_to(reports_dir).as_posix(), "image"))
    revision = revision_info(project_root)
    params_text = None
    if params_path is not None and Path(params_path).is_file():
        params_text = Path(params_path).read_text()
    problems: list[dict] = []
    html = render_html(sections, title=title, revision=revision, params_text=params_text,
                       embed_images=embed_images, max_rows=max_rows, max_images=max_images,
                       max_audio=max_audio, problems=problems)
    atomic_write_text(reports_dir / html_name, html)
    atomic_write_text(reports_dir / md_name, render_summary_md(sections, title=title, revision=revision,
                                                               max_rows=max_rows, report_name=html_name))
    count = {k: sum(len(s.of(k)) for s in sections) for k in ("image", "audio", "table", "metrics")}
    return {"sections": [s.name for s in sections], "images": count["image"], "audio": count["audio"],
            "tables": count["table"], "metrics": count["metrics"], "html_bytes": len(html.encode()),
            "problems": problems}
