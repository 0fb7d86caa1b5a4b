"""Shared pydantic base for params sections."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A params.yaml section: unknown keys are errors, values are validated on assignment.

    Types are strict: ``true`` is not a number, ``256.5`` (or ``256.0``) is not an integer and
    ``"3"`` is not a number; an integer is accepted where a float is expected (YAML and
    ``dvc exp run -S segment.length_s=1`` write ``1``). NaN and infinity are refused.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, strict=True,
                              allow_inf_nan=False)
