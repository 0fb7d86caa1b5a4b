"""HTML and markdown fragments: tables from JSON/CSV, a small markdown subset, images, audio."""
from __future__ import annotations

import base64
import json
import math
import mimetypes
import re
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["flatten", "fmt", "frame_html", "frame_markdown", "json_frame", "json_tables", "read_table_file",
           "markdown_html", "image_html", "audio_html"]


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


def frame_html(frame: pd.DataFrame, *, total: int | None = None, source: str | None = None) -> str:
    """An HTML table (values via :func:`fmt`), with a note when rows were left out."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(fmt(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    note = ""
    if total is not None and total > len(frame):
        more = f"{total - len(frame)} more rows"
        note = (f'<p class="note">{more} in <a href="{escape(source)}">{escape(source)}</a></p>'
                if source else f'<p class="note">{more}</p>')
    return f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}'


def frame_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (``|`` in values escaped)."""
    def cell(v: Any) -> str:
        return fmt(v).replace("|", "\\|").replace("\n", " ")
    cols = [cell(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _inline(text: str) -> str:
    t = escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    t = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", t)
    return t


def markdown_html(text: str) -> str:
    """A small markdown subset → HTML: headings, pipe tables, bullet lists, code fences, paragraphs.

    Links and raw HTML are shown as text (escaped), so a markdown file cannot inject markup.
    """
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append("<pre>" + escape("\n".join(lines[i + 1:j])) + "</pre>")
            i = j + 1
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            level = min(6, len(m.group(1)) + 2)
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
            i += 1
            continue
        if line.strip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", lines[i].strip())[1:-1]]
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                    rows.append([c.replace("\\|", "|") for c in cells])
                i += 1
            if rows:
                head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
                body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
                out.append(f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead>'
                           f"<tbody>{body}</tbody></table></div>")
            continue
        if re.match(r"^\s*[-*]\s+", line):
            items = []
            while i < len(lines) and re.match(r"^\s*[-*]\s+", lines[i]):
                item = re.sub(r"^\s*[-*]\s+", "", lines[i])
                items.append(f"<li>{_inline(item)}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        if line.strip():
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"^(#|\||```|\s*[-*]\s)", lines[i]):
                para.append(lines[i].strip())
                i += 1
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            continue
        i += 1
    return "\n".join(out)


def image_html(path: Path, rel: str, *, embed: bool, title: str) -> str:
    """A figure: embedded as a data URI when ``embed``, else linked by ``rel``."""
    if embed:
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        src = f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    else:
        src = escape(rel)
    return (f'<figure><a href="{escape(rel)}"><img src="{src}" alt="{escape(title)}" loading="lazy"></a>'
            f"<figcaption>{escape(title)}</figcaption></figure>")


def audio_html(rel: str, *, title: str) -> str:
    """An audio player linked by ``rel`` (relative to the report)."""
    mime = mimetypes.guess_type(rel)[0] or "audio/wav"
    if mime == "audio/x-wav":
        mime = "audio/wav"
    return (f'<div class="audio"><span>{escape(title)}</span><audio controls preload="none">'
            f'<source src="{escape(rel)}" type="{mime}"></audio></div>')
