"""Write ``dvc_plots.html``: DVC's plots page with vega, vega-lite and vega-embed inlined.

``.dvc/config`` points ``plots.html_template`` at the result, so ``dvc plots show`` and
``dvc plots diff`` pages render with no network (DVC's default page loads the three
libraries from a CDN). The scripts are inlined rather than linked because DVC writes the
page into another folder (``dvc_plots/``), where a relative ``<script src>`` would break.

Refresh the vendored files with ``npm ci`` here, copy the three ``build/*.min.js`` files into
``dist/`` and rerun ``python vendor/vega/build_template.py``; ``--check`` exits 1 when the
committed page is stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIBRARIES = ("vega", "vega-lite", "vega-embed")  # load order: embed needs the other two
OUTPUT = HERE / "dvc_plots.html"
PAGE = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- vega {vega}, vega-lite {vega_lite}, vega-embed {vega_embed}: vendored (vendor/vega), no CDN -->
{scripts}
    <style>
        table {{
            border-spacing: 15px;
        }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def render_page(root: Path = HERE) -> str:
    """Return the template text with the pinned libraries inlined.

    Parameters
    ----------
    root : Path
        Folder holding ``package.json`` and ``dist/<name>.min.js``.

    Returns
    -------
    str
        An HTML page with DVC's ``{plot_divs}`` and ``{refresh_tag}`` placeholders.
    """
    pins = json.loads((root / "package.json").read_text(encoding="utf8"))["dependencies"]
    blocks = []
    for name in LIBRARIES:
        code = (root / "dist" / f"{name}.min.js").read_text(encoding="utf8")
        code = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", code)
        if "</script" in code.lower() or "{plot_divs}" in code:
            raise ValueError(f"{name}.min.js cannot be inlined as is")
        blocks.append(f'<script data-library="{name}@{pins[name]}">\n{code.strip()}\n</script>')
    versions = {key.replace("-", "_"): value for key, value in pins.items()}
    return PAGE.format(scripts="\n".join(blocks), **versions)


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) ``dvc_plots.html``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is stale")
    args = parser.parse_args(argv)
    page = render_page()
    if args.check:
        current = OUTPUT.read_text(encoding="utf8") if OUTPUT.exists() else ""
        if current != page:
            print(f"{OUTPUT} is stale: rerun python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(page, encoding="utf8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
