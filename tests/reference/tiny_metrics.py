"""Rewrite tests/reference/tiny_metrics.json's values from a reproduced tiny-profile project.

    python tests/reference/tiny_metrics.py PROJECT_DIR
"""
import json
import sys
from pathlib import Path

REF = Path(__file__).with_name("tiny_metrics.json")


def lookup(project: Path, key: str) -> float:
    """``eval.accuracy`` -> reports/eval/metrics.json ["accuracy"]."""
    stage, *path = key.split(".")
    node = json.loads((project / "reports" / stage / "metrics.json").read_text())
    for part in path:
        node = node[part]
    return node


if __name__ == "__main__":
    project = Path(sys.argv[1])
    ref = json.loads(REF.read_text())
    ref["values"] = {k: round(float(lookup(project, k)), 4) for k in ref["exact"]}
    REF.write_text(json.dumps(ref, indent=2) + "\n")
    print(json.dumps(ref["values"], indent=2))
