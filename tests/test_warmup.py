"""`python -m audiolens.warmup` (run by `make setup`) must call every librosa function the package uses.

Two processes compiling the same librosa numba kernel into an empty cache at once can crash, and can
leave mismatched cache files that crash later calls (numba #10128); the warm-up compiles them once,
serially. A new librosa call in the package must either be warmed or be listed here as numba-free.
"""
import re
from pathlib import Path

import audiolens.warmup

SRC = Path(audiolens.warmup.__file__).parent
# librosa functions without numba kernels of their own (plain numpy/scipy, or plotting)
NUMBA_FREE = {"display.specshow", "mel_frequencies", "filters.mel", "istft"}


def _calls(text: str) -> set[str]:
    return set(re.findall(r"librosa\.([a-z_][a-z_.]*)\(", text))


def test_every_librosa_call_in_the_package_is_warmed():
    warmed = _calls(Path(audiolens.warmup.__file__).read_text())
    used = set()
    for path in SRC.rglob("*.py"):
        if path.name != "warmup.py":
            used |= _calls(path.read_text())
    assert used, "no librosa calls found: the pattern is wrong"
    assert "pyin" in used and "pyin" in warmed
    missing = sorted(used - warmed - NUMBA_FREE)
    assert not missing, f"librosa functions used but not warmed by audiolens.warmup: {missing}"


def test_makefile_setup_runs_the_warmup():
    makefile = (SRC.parents[1] / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/.installed-$(VARIANT):", 1)[1].split("\n\n", 1)[0]
    assert "-m audiolens.warmup" in recipe
