"""Stage runtime: numerics settings applied before TensorFlow's first op."""
from __future__ import annotations

import logging

from audiolens.runtime import apply_numerics


def test_cpu_isa_cap_is_set_unless_the_environment_sets_one(monkeypatch, caplog):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    apply_numerics(deterministic=False, cpu_isa="AVX2")
    import os

    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    with caplog.at_level(logging.WARNING):
        apply_numerics(deterministic=False, cpu_isa="AVX2")
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "SSE41"
    assert "overrides numerics.cpu_isa=AVX2" in caplog.text


def test_no_cap_leaves_the_environment_alone(monkeypatch):
    import os

    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    apply_numerics(deterministic=False, cpu_isa=None)
    assert "ONEDNN_MAX_CPU_ISA" not in os.environ
