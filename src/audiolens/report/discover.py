"""Find what the analysis stages wrote under ``reports/``, grouped into report sections.

A section is a known folder name (``eda``, ``eval``, ...) with a title; unknown folders
follow the known ones, so a new stage's outputs show up without code changes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SECTIONS", "QUESTIONS", "Artefact", "Section", "artefact_kind", "discover", "caption", "split_section",
           "group_by_question"]

# folder -> (title, one-line description), in report order
SECTIONS: dict[str, tuple[str, str]] = {
    "ingest": ("Data", "Recordings found, classes, and files skipped at ingest."),
    "clean": ("Cleaning", "Noise reduction and silence removal per recording."),
    "segment": ("Segments", "Fixed-length segments and the short tails."),
    "augment": ("Augmentation", "Time-stretched copies of the chosen recordings (train only)."),
    "eda": ("Exploratory analysis", "Balance, durations, spectra, pitch and spectrogram statistics."),
    "train": ("Training", "Learning curves and training metrics (DVCLive)."),
    "baseline": ("Baseline", "Per-band statistics + logistic regression / 1-NN: the figure the CNN must beat."),
    "eval": ("Evaluation", "Test-split metrics, confusion matrix, ROC, galleries and confidence."),
    "uncertainty": ("Uncertainty", "Single model vs MC dropout vs deep ensemble: calibration and abstention."),
    "ood": ("Out-of-distribution check",
            "What the gate refuses: genuine recordings vs non-speech and unseen speakers."),
    "interpret_cam": ("Class activation maps", "Where in the spectrogram the last convolutions respond (Grad-CAM)."),
    "interpret": ("Inside the network", "Filters, feature maps, retrieval and class activation maps."),
    "paramspace": ("Parameter space", "Weight drift across epochs and layer-reset robustness."),
    "ood": ("Out-of-distribution check", "The gate's check: validation pass rate, AUROC and false accepts on "
                                         "generated non-speech, extra folders and unseen speakers."),
    "attribution": ("Attribution", "Explainers, masks, fidelity metrics, reconstructions you can hear, noise."),
    "bench": ("Benchmarks", "Speed measurements (benchmarks/)."),
}

# the report's question sections: (anchor, title, one line, the stage sections they hold, in order);
# a section named in none of them (an unknown folder) goes to the last one
QUESTIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("how-good", "How good?", "Test metrics with their intervals, the baseline the CNN must beat, training.",
     ("eval", "baseline", "train")),
    ("how-sure", "How sure?", "Calibration, MC dropout vs deep ensemble, abstention, inputs the gate should refuse.",
     ("uncertainty", "ood")),
    ("why", "Why?", "Which time–frequency regions decided: attribution maps you can listen to, their fidelity, "
     "class activation maps.", ("attribution", "interpret_cam")),
    ("what-learned", "What did it learn?", "Filters, feature maps, embeddings and retrieval, weight drift, and the "
     "data it learned from.", ("interpret", "paramspace", "eda")),
    ("pipeline", "Data and pipeline", "Ingest, cleaning, segments, augmentation and benchmarks: the raw figures.",
     ("ingest", "clean", "segment", "augment", "bench")),
)

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp"}
AUDIO_EXT = {".wav", ".flac", ".ogg", ".mp3"}
TABLE_EXT = {".csv", ".tsv"}


@dataclass(frozen=True)
class Artefact:
    """One file of a section: ``path`` (absolute), ``rel`` (POSIX, relative to reports/), ``kind``."""

    path: Path
    rel: str
    kind: str

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass
class Section:
    """A report section: folder ``name``, ``title``, ``blurb`` and its artefacts by kind."""

    name: str
    title: str
    blurb: str
    artefacts: list[Artefact] = field(default_factory=list)

    def of(self, kind: str) -> list[Artefact]:
        return [a for a in self.artefacts if a.kind == kind]


def artefact_kind(rel: str) -> str | None:
    """Kind of a file (by name, relative to its section folder), or None to leave it out.

    JSON files at the top of a section folder are headline ``metrics``; deeper JSON files
    are ``table`` (shown folded). ``resolved_params.yaml`` is ``params``.
    """
    p = Path(rel)
    if any(part.startswith(".") for part in p.parts):
        return None
    ext = p.suffix.lower()
    if p.name == "resolved_params.yaml":
        return "params"
    if ext in IMAGE_EXT:
        return "image"
    if ext in AUDIO_EXT:
        return "audio"
    if ext in TABLE_EXT:
        return "table"
    if ext == ".md":
        return "markdown"
    if ext == ".json":
        return "metrics" if len(p.parts) == 1 else "table"
    return None


def _natural(s: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def discover(reports_dir: str | Path, *, exclude: tuple[str, ...] = ("report.html", "summary.md"),
             skip_folders: tuple[str, ...] = ("report",)) -> list[Section]:
    """Sections of ``reports_dir`` in report order, each with its artefacts sorted by path.

    Empty folders and folders with nothing showable are left out, as are ``skip_folders``
    (the report stage's own folder). Files directly in ``reports_dir`` are ignored.
    """
    root = Path(reports_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"reports folder not found: {root}")
    folders = [d for d in root.iterdir()
               if d.is_dir() and not d.name.startswith(".") and d.name not in skip_folders]
    known = [n for n in SECTIONS if n in {d.name for d in folders}]
    unknown = sorted((d.name for d in folders if d.name not in SECTIONS), key=_natural)
    sections = []
    for name in known + unknown:
        title, blurb = SECTIONS.get(name, (name.replace("_", " ").capitalize(), ""))
        sec = Section(name, title, blurb)
        for f in sorted((root / name).rglob("*"), key=lambda q: _natural(q.relative_to(root).as_posix())):
            if not f.is_file() or f.name in exclude:
                continue
            kind = artefact_kind(f.relative_to(root / name).as_posix())
            if kind is not None:
                sec.artefacts.append(Artefact(f.resolve(), f.relative_to(root).as_posix(), kind))
        if sec.artefacts:
            sections.append(sec)
    return sections


def caption(rel: str) -> str:
    """Readable caption from a file path: ``eda/figures/examples_linear_vs_mel.png`` → ``examples linear vs mel``."""
    stem = Path(rel).stem
    return re.sub(r"[_\-]+", " ", stem).strip()


def split_section(sections: list[Section], name: str, prefix: str, new: str) -> list[Section]:
    """Move the artefacts of section ``name`` whose ``rel`` starts with ``name/prefix`` into a new
    section ``new`` (title from :data:`SECTIONS`), placed right after it; no-op when none match."""
    out = []
    for sec in sections:
        out.append(sec)
        if sec.name != name:
            continue
        moved = [a for a in sec.artefacts if a.rel.startswith(f"{name}/{prefix}")]
        if moved:
            sec.artefacts = [a for a in sec.artefacts if a not in moved]
            title, blurb = SECTIONS.get(new, (new, ""))
            out.append(Section(new, title, blurb, moved))
    return out


def group_by_question(names: list[str]) -> list[tuple[str, str, str, list[str]]]:
    """:data:`QUESTIONS` with the section ``names`` present, in question order; unknown names go last.

    Questions without any present section are left out.
    """
    known = {n for *_, members in QUESTIONS for n in members}
    out = []
    for i, (anchor, title, blurb, members) in enumerate(QUESTIONS):
        present = [n for n in members if n in names]
        if i == len(QUESTIONS) - 1:
            present += [n for n in names if n not in known]
        if present:
            out.append((anchor, title, blurb, present))
    return out
