"""Listening panels: per attribution example, its figure and what each explainer kept and removed, as audio.

The attribution stage writes ``attribution/wav/<ii>_<id>_<explainer>_<mask>_{original,masked_in,
masked_out}.wav`` and ``attribution/figures/example_<ii>_<id>.png`` (rows: explainers; columns:
spectrogram, attribution map, mask, masked spectrogram). A panel groups them by example and
labels the players in words, not file names.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from audiolens.attribution.registry import EXPLAINERS
from audiolens.config.analysis import MASK_KIND_PATTERN
from audiolens.report.discover import Artefact, Section

__all__ = ["PARTS", "parse_wav_name", "mask_words", "listening_panels"]

# file suffix -> what the player is labelled with
PARTS = {"original": "the whole clip", "masked_in": "what the model used", "masked_out": "what it ignored"}
_MASK = MASK_KIND_PATTERN.strip("^$")
_ORDER = {name: i for i, name in enumerate(EXPLAINERS)}  # the figure's row order (params' default order)
_EXAMPLE_FIG = re.compile(r"^example_(?P<idx>\d+)_(?P<id>.+)$")


def parse_wav_name(stem: str) -> dict[str, str] | None:
    """``{idx, id, explainer, mask, part}`` of an attribution WAV's stem, or None for any other name."""
    names = "|".join(re.escape(n) for n in sorted(EXPLAINERS, key=len, reverse=True))
    m = re.match(rf"^(?P<idx>\d+)_(?P<id>.+)_(?P<explainer>{names})_(?P<mask>{_MASK})"
                 rf"_(?P<part>{'|'.join(PARTS)})$", stem)
    if m is None:
        return None
    d = m.groupdict()
    return {k: d[k] for k in ("idx", "id", "explainer", "mask", "part")}


def mask_words(mask: str) -> str:
    """A mask kind in words: ``top30`` -> "the 30 % most important time-frequency bins"."""
    m = re.fullmatch(r"(pos_)?top(\d+(?:\.\d+)?)", mask)
    if m:
        return (f"the {m.group(2)} % most important time–frequency bins"
                + (" (positive evidence only)" if m.group(1) else ""))
    m = re.fullmatch(r"(pos_)?t(\d+(?:\.\d+)?)", mask)
    if m:
        return f"bins whose importance is at least {m.group(2)} % of the maximum"
    return f"mask “{mask}”"


def listening_panels(section: Section, *, audio_sources: Callable[[Artefact], list[dict[str, str]]],
                     image_src: Callable[[Artefact], str]) -> tuple[list[dict[str, Any]], set[str]]:
    """The panels of an ``attribution`` section and the audio files they use.

    Parameters
    ----------
    section : Section
        The attribution section (other sections give no panels).
    audio_sources : callable
        Artefact -> ``[{"src", "mime"}]`` (a compressed copy first, the original as fallback).
    image_src : callable
        Artefact -> the figure's ``<img src>``.

    Returns
    -------
    panels : list of dict
        One per example, in file order: ``title``, ``figure`` (``{rel, src, title}`` or None),
        ``mask`` (in words) and ``rows``: ``{explainer, players: [{label, part, sources}]}`` with
        the players in :data:`PARTS` order, explainers in registry order.
    used : set of str
        ``rel`` of every audio file shown in a panel (left out of the section's plain list).
    """
    examples: dict[tuple[str, str], dict[str, Any]] = {}
    used: set[str] = set()
    for a in section.of("audio"):
        info = parse_wav_name(a.path.stem)
        if info is None:
            continue
        ex = examples.setdefault((info["idx"], info["id"]), {"mask": info["mask"], "explainers": {}})
        ex["explainers"].setdefault(info["explainer"], {})[info["part"]] = a
        used.add(a.rel)
    figures = {}
    for a in section.of("image"):
        m = _EXAMPLE_FIG.match(a.path.stem)
        if m:
            figures[(m.group("idx"), m.group("id"))] = a
    panels = []
    for (idx, ex_id), ex in examples.items():
        fig = figures.get((idx, ex_id))
        rows = [{"explainer": name.replace("_", " "),
                 "players": [{"label": label, "part": part, "sources": audio_sources(parts[part])}
                             for part, label in PARTS.items() if part in parts]}
                for name, parts in sorted(ex["explainers"].items(), key=lambda kv: _ORDER.get(kv[0], len(_ORDER)))]
        panels.append({"title": f"Example {int(idx) + 1}: {ex_id}", "mask": mask_words(ex["mask"]),
                       "figure": None if fig is None else {"rel": fig.rel, "src": image_src(fig),
                                                           "title": fig.path.stem.replace("_", " ")},
                       "rows": rows})
    return panels, used | {f["rel"] for p in panels if (f := p["figure"])}
