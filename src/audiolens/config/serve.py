"""Params section ``serve``: the ``audiolens serve`` web gate (limits, binding, worker pool)."""
from __future__ import annotations

from pydantic import Field, model_validator

from audiolens.config.base import Section


class ServeParams(Section):
    """``serve``: one page and a JSON API over the voice gate (``audiolens serve``).

    Safe by default: bound to loopback; a non-loopback ``host`` needs a ``token``
    (or the explicit ``--insecure`` flag of the command).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    token: str | None = None
    max_upload_mb: float = Field(default=10.0, gt=0.0, le=1024.0)
    max_duration_s: float = Field(default=30.0, gt=0.0, le=3600.0)
    record_seconds: float = Field(default=6.0, gt=0.0, le=60.0)
    workers: int = Field(default=1, ge=1, le=64)
    queue: int = Field(default=4, ge=0, le=1024)
    timeout_s: float = Field(default=60.0, gt=0.0)
    explain: bool = True

    @model_validator(mode="after")
    def _record_fits(self) -> "ServeParams":
        if self.record_seconds > self.max_duration_s:
            raise ValueError(f"serve.record_seconds ({self.record_seconds:g} s) must be <= serve.max_duration_s "
                             f"({self.max_duration_s:g} s)")
        return self
