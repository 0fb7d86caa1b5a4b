"""Ensemble member bookkeeping: ids, seeds and folders (shared by train_member and uncertainty).

Member ``i >= 1`` is trained by the ``train_member@i`` stage with seed
``train.seed + 1000 * i`` into ``models/ensemble/<i>/``; member 0 is the main model
(``models/``, seed ``train.seed``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from audiolens.errors import ModelError

__all__ = ["member_seed", "member_dir", "member_paths"]


def member_seed(base_seed: int, member: int) -> int:
    """Training seed of ensemble member ``member`` (0 = the main model)."""
    return int(base_seed) + 1000 * int(member)


def member_dir(models_dir: str | Path, member: int) -> Path:
    """Output folder of a member: ``<models_dir>`` for 0, else ``<models_dir>/ensemble/<i>``."""
    if int(member) < 0:
        raise ValueError(f"member ids are >= 0, got {member}")
    return Path(models_dir) if int(member) == 0 else Path(models_dir) / "ensemble" / str(int(member))


def member_paths(models_dir: str | Path, members: Sequence[int]) -> list[Path]:
    """``model.keras`` paths of ``members``; raises naming every missing file."""
    paths = [member_dir(models_dir, m) / "model.keras" for m in members]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ModelError(f"ensemble member model(s) missing: {', '.join(missing)} "
                         f"(run `dvc repro` for the train / train_member stages)")
    return paths
