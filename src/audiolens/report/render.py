"""What the report templates show: tables from JSON/CSV, markdown (markdown-it-py), images, audio.

The page itself is laid out by the Jinja2 templates in ``report/templates/``.
"""
from __future__ import annotations

import json
import math
import mimetypes
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt

__all__ = ["flatten", "fmt", "frame_markdown", "json_frame", "json_tables", "read_table_file",
           "markdown_html", "audio_mime", "environment"]


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts → ``{"a.b.c": value}``; lists of scalars become one comma-joined value."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list) and all(not isinstance(v, (dict, list)) for v in obj):
        shown = ", ".join(fmt(v) for v in obj[:20]) + (f", … ({len(obj)} items)" if len(obj) > 20 else "")
        out[prefix or "value"] = shown
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix or "value"] = obj
    return out


def fmt(v: Any) -> str:
    """Short text of a value: floats with 4 significant digits, NaN as ``nan``."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.4g}"
    return str(v)


def json_frame(data: Any) -> pd.DataFrame:
    """A JSON value as a table: a list of records → rows; anything else → ``key, value`` rows."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame([flatten(r) for r in data])
    flat = flatten(data)
    return pd.DataFrame({"key": list(flat), "value": [fmt(v) for v in flat.values()]})


def _uniform_records(value: Any) -> bool:
    """A dict of >= 2 dicts that flatten to the same scalar keys (e.g. per-class metrics)."""
    if not isinstance(value, dict) or len(value) < 2 or not all(isinstance(v, dict) for v in value.values()):
        return False
    keys = [tuple(flatten(v)) for v in value.values()]
    return all(k == keys[0] for k in keys) and len(keys[0]) > 0


def json_tables(data: Any, *, index_name: str = "name") -> list[tuple[str, pd.DataFrame]]:
    """A JSON value as titled tables: scalars as ``key, value`` rows, and every dict of
    same-shaped dicts (``{"per_class": {"a": {...}, "b": {...}}}``) as its own wide table
    with one row per entry. A list of records is one table. Titles are the key paths ("" for
    the scalar table)."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return [("", pd.DataFrame([flatten(r) for r in data]))]
    if _uniform_records(data):
        return [("", pd.DataFrame([{index_name: k, **flatten(v)} for k, v in data.items()]))]
    if not isinstance(data, dict):
        return [("", json_frame(data))]
    scalars: dict[str, Any] = {}
    wide: list[tuple[str, pd.DataFrame]] = []

    def walk(obj: dict, prefix: str) -> None:
        # sibling dicts with the same flat keys (per-class reports, per-method metrics) -> one table
        shapes: dict[tuple, list[str]] = {}
        for k, v in obj.items():
            if isinstance(v, dict) and v and not any(isinstance(x, (dict, list)) for x in v.values()):
                shapes.setdefault(tuple(v), []).append(k)
        grouped = {k for names in shapes.values() if len(names) >= 2 for k in names}
        for k, v in obj.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if k in grouped:
                names = shapes[tuple(v)]
                if k == names[0]:
                    title = f"{prefix} ({', '.join(map(str, names))})" if prefix else ", ".join(map(str, names))
                    wide.append((title, pd.DataFrame([{index_name: n, **obj[n]} for n in names])))
            elif _uniform_records(v):
                wide.append((key, pd.DataFrame([{index_name: n, **flatten(r)} for n, r in v.items()])))
            elif isinstance(v, dict) and v:
                walk(v, key)
            else:
                scalars.update(flatten(v, key))
    walk(data, "")
    out = [("", pd.DataFrame({"key": list(scalars), "value": [fmt(v) for v in scalars.values()]}))] if scalars else []
    return out + wide


def read_table_file(path: str | Path, *, max_rows: int) -> tuple[pd.DataFrame, int]:
    """First ``max_rows`` rows of a CSV/TSV/JSON file and its total number of rows."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        frame = json_frame(json.loads(path.read_text()))
        return frame.head(max_rows), len(frame)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, "rb") as fh:
        total = max(0, sum(1 for _ in fh) - 1)
    if total == 0:
        return pd.read_csv(path, sep=sep, nrows=0), 0
    return pd.read_csv(path, sep=sep, nrows=max_rows, keep_default_na=False), total


def frame_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (``|`` in values escaped)."""
    def cell(v: Any) -> str:
        return fmt(v).replace("|", "\\|").replace("\n", " ")
    cols = [cell(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _markdown() -> MarkdownIt:
    """CommonMark + tables; raw HTML, links and images stay text (a file cannot inject markup)."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["link", "image", "autolink"])

    def table_open(renderer, tokens, idx, options, env):
        return '<div class="tablewrap"><table>\n'

    def table_close(renderer, tokens, idx, options, env):
        return "</table></div>\n"

    md.add_render_rule("table_open", table_open)
    md.add_render_rule("table_close", table_close)
    return md


def markdown_html(text: str) -> str:
    """Markdown (CommonMark + pipe tables, via markdown-it-py) -> HTML for the report.

    Headings move down two levels (``#`` -> ``<h3>``) to nest under the section's ``<h2>``;
    raw HTML is escaped and links are shown as text.
    """
    md = _markdown()
    tokens = md.parse(text)
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(6, int(tok.tag[1]) + 2)}"
    return md.renderer.render(tokens, md.options, {})


def audio_mime(rel: str) -> str:
    """The ``<source type>`` of an audio file."""
    mime = mimetypes.guess_type(rel)[0] or "audio/wav"
    return "audio/wav" if mime == "audio/x-wav" else mime


def environment() -> Environment:
    """The Jinja2 environment of ``report/templates`` (HTML autoescaped, ``fmt`` and ``md_table`` filters)."""
    env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                      autoescape=select_autoescape(["html.j2"]), keep_trailing_newline=True,
                      undefined=StrictUndefined)
    env.filters["fmt"] = fmt
    env.filters["md_table"] = frame_markdown
    return env
