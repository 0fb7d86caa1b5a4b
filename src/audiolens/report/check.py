"""Check a built report: the HTML parses with balanced tags and every reference resolves offline."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["ReportCheck", "check_report"]

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
REF_ATTRS = {"src", "href", "poster"}


class ReportCheck(HTMLParser):
    """Collects tags, ids and references of an HTML document and structural problems."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.refs: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for k, v in attrs:
            if k == "id" and v:
                if v in self.ids:
                    self.problems.append(f"duplicate id {v!r}")
                self.ids.add(v)
            if k in REF_ATTRS and v is not None:
                self.refs.append((tag, v))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected </{tag}> (open: {'/'.join(self.stack[-4:]) or 'none'}) "
                                 f"at line {self.getpos()[0]}")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def check_report(path: str | Path) -> tuple[list[str], ReportCheck]:
    """Problems of the HTML report at ``path`` (empty list: fine) and the parse result.

    Checks: the document parses with every non-void element closed in order; ``#anchors``
    name an existing id; every relative ``src``/``href`` names an existing file (relative to
    the report's folder); no reference needs the network (``http:``, ``https:``, ``//``).
    ``data:`` URIs are accepted.
    """
    path = Path(path)
    parser = ReportCheck()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    problems = list(parser.problems)
    if parser.stack:
        problems.append(f"unclosed elements at end: {'/'.join(parser.stack)}")
    for tag, url in parser.refs:
        if url.startswith("data:"):
            continue
        if url.startswith("#"):
            if url[1:] not in parser.ids:
                problems.append(f"<{tag}> anchor {url!r} has no matching id")
            continue
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https") or url.startswith("//"):
            problems.append(f"<{tag}> needs the network: {url}")
            continue
        if parsed.scheme and parsed.scheme != "file":
            continue  # mailto: and the like
        target = (path.parent / unquote(parsed.path)).resolve()
        if not target.is_file():
            problems.append(f"<{tag}> references a missing file: {url}")
    return problems, parser
