"""One home for each default: the pydantic schema and params.yaml agree on every key and value."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from audiolens.config import Params, parse_params

ROOT = Path(__file__).resolve().parents[1]


def _section_class(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _schema_defaults(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """Every leaf key of the schema (dotted path) -> its default, walking nested sections."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = _section_class(field.annotation)
        if sub is not None:
            out.update(_schema_defaults(sub, path + "."))
        else:
            assert not field.is_required(), f"{path}: a schema key without a default"
            out[path] = field.get_default(call_default_factory=True)
    return out


def _yaml_leaves(data: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_yaml_leaves(value, path + "."))
        else:
            out[path] = value
    return out


@pytest.fixture(scope="module")
def params_yaml() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_every_schema_key_is_in_params_yaml_with_the_same_default(params_yaml):
    schema = _schema_defaults(Params)
    written = _yaml_leaves(params_yaml)
    assert sorted(set(schema) - set(written)) == [], "schema keys missing from params.yaml"
    assert sorted(set(written) - set(schema)) == [], "params.yaml keys the schema does not know"
    differ = {k: (schema[k], written[k]) for k in schema if schema[k] != written[k]}
    assert differ == {}, "key: (schema default, params.yaml value)"


def test_an_empty_params_file_resolves_to_params_yaml(params_yaml):
    assert parse_params({}).model_dump() == parse_params(params_yaml).model_dump()


def test_the_walk_sees_nested_keys_and_disagreements():
    class Inner(BaseModel):
        a: int = 1

    class Outer(BaseModel):
        inner: Inner = Inner()
        b: str = "x"

    assert _schema_defaults(Outer) == {"inner.a": 1, "b": "x"}
    assert _yaml_leaves({"inner": {"a": 2}, "b": "x"}) != _schema_defaults(Outer)


def test_derived_values_are_computed_not_keys():
    u = parse_params({"uncertainty": {"members": [2, 5], "include_main": False}}).uncertainty
    assert u.ensemble_size == 2 and "ensemble_size" not in u.model_dump()


def test_cross_section_limits_are_config_errors_naming_both_keys():
    from audiolens.config import ConfigError

    with pytest.raises(ConfigError, match=r"features.fmax \(5000 Hz\) must be <= audio.sample_rate / 2"):
        parse_params({"audio": {"sample_rate": 8000}, "features": {"kind": "mel", "fmax": 5000.0}})
    with pytest.raises(ConfigError, match=r"features.fmin \(4000 Hz\) must be below audio.sample_rate / 2"):
        parse_params({"audio": {"sample_rate": 8000}, "features": {"kind": "mel", "fmin": 4000.0}})
    with pytest.raises(ConfigError, match=r"eda.pyin_fmax \(500 Hz\) must be below audio.sample_rate / 2"):
        parse_params({"audio": {"sample_rate": 1000}})
