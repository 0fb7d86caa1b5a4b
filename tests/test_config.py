import pytest
import yaml

from audiolens.config import ConfigError, load_params, parse_params, save_resolved


def test_repo_params_file_is_valid(repo_root):
    p = load_params(repo_root / "params.yaml")
    assert p.data.layout == "demo"
    assert p.data.positive == ["f1", "f7", "f8", "m3", "m6", "m8"]


def test_misspelled_key_is_named_with_allowed_keys():
    with pytest.raises(ConfigError) as err:
        parse_params({"data": {"layuot": "regex"}})
    msg = str(err.value)
    assert "data.layuot" in msg and "unknown key" in msg and "layout" in msg


def test_unknown_section_is_named():
    with pytest.raises(ConfigError, match=r"trian: unknown key"):
        parse_params({"trian": {"epochs": 3}})


def test_wrong_type_and_out_of_range_name_the_key():
    with pytest.raises(ConfigError, match=r"audio\.sample_rate"):
        parse_params({"audio": {"sample_rate": "fast"}})
    with pytest.raises(ConfigError, match=r"audio\.sample_rate.*greater than or equal"):
        parse_params({"audio": {"sample_rate": 10}})
    with pytest.raises(ConfigError, match=r"data\.layout.*'demo', 'regex', 'folders' or 'csv'"):
        parse_params({"data": {"layout": "zip"}})


def test_every_problem_is_listed_at_once():
    with pytest.raises(ConfigError) as err:
        parse_params({"data": {"layout": "zip"}, "audio": {"sample_rate": -1}})
    assert "data.layout" in str(err.value) and "audio.sample_rate" in str(err.value)


def test_cross_field_rules():
    with pytest.raises(ConfigError, match="data.manifest"):
        parse_params({"data": {"layout": "csv", "manifest": None}})
    with pytest.raises(ConfigError, match="not a named group"):
        parse_params({"data": {"layout": "regex", "pattern": r"(?P<spk>\w+)\.wav", "label": "speaker",
                               "speaker": None}})
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        parse_params({"data": {"layout": "regex", "pattern": "(?P<x>"}})


def test_missing_or_invalid_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "p.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)


def test_save_resolved_fills_defaults(tmp_path):
    p = parse_params({"data": {"layout": "folders", "label": "folder", "speaker": None, "root": "x"}})
    out = save_resolved(p, tmp_path / "r.yaml", sections=["data", "audio"])
    back = yaml.safe_load(out.read_text())
    assert set(back) == {"data", "audio"}
    assert back["data"]["layout"] == "folders" and back["audio"]["sample_rate"] == p.audio.sample_rate
    assert parse_params(back).data == p.data
    assert "n_jobs" not in back["audio"] and "scheduler" not in back["audio"] and "n_jobs" not in back["data"]


def test_bootstrap_resamples_is_off_or_enough():
    assert parse_params({"bootstrap": {"resamples": 0}}).bootstrap.resamples == 0
    assert parse_params({"bootstrap": {"resamples": 200}}).bootstrap.resamples == 200
    with pytest.raises(ConfigError, match=r"bootstrap\.resamples: .*0 \(no intervals\) or >= 100"):
        parse_params({"bootstrap": {"resamples": 20}})
    with pytest.raises(ConfigError, match=r"uncertainty\.member_outlier_z"):
        parse_params({"uncertainty": {"member_outlier_z": 0}})


def test_small_cnn_pools_only_with_the_cam_exact_heads():
    for pool in ("gap", "time"):
        assert parse_params({"model": {"arch": "small_cnn", "pool": pool}}).model.pool == pool
    with pytest.raises(ConfigError, match="'gap' or 'time' with model.arch small_cnn"):
        parse_params({"model": {"arch": "small_cnn", "pool": "flatten"}})
