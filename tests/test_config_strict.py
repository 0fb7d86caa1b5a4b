"""Strict parameter types and cross-section rules (issue 14, part 5 of "Why")."""
import pytest
import yaml

from audiolens.config import ConfigError, load_params, parse_params


@pytest.mark.parametrize("raw, key", [
    ({"segment": {"length_s": True}}, "segment.length_s"),      # bool is not a number
    ({"features": {"n_fft": 256.5}}, "features.n_fft"),         # float is not an int
    ({"features": {"n_fft": 256.0}}, "features.n_fft"),         # not even a whole one
    ({"train": {"epochs": True}}, "train.epochs"),
    ({"train": {"seed": False}}, "train.seed"),
    ({"audio": {"sample_rate": "8000"}}, "audio.sample_rate"),  # a string is not a number
    ({"clean": {"enabled": 1}}, "clean.enabled"),               # 1 is not a bool
    ({"model": {"dropout": float("nan")}}, "model.dropout"),
    ({"attribution": {"floor_db": float("-inf")}}, "attribution.floor_db"),
    ({"augment": {"factors": [True]}}, "augment.factors"),
])
def test_wrong_types_are_refused_with_the_key(raw, key):
    with pytest.raises(ConfigError) as err:
        parse_params(raw)
    assert key in str(err.value)


def test_int_where_float_expected_is_accepted_as_float():
    """``dvc exp run -S segment.length_s=1`` writes the YAML int 1: it must stay valid."""
    p = parse_params({"segment": {"length_s": 1}, "model": {"width": 1}, "augment": {"factors": [2]}})
    assert p.segment.length_s == 1.0 and isinstance(p.segment.length_s, float)
    assert p.augment.factors == [2.0]


def test_set_override_file_round_trip(tmp_path, repo_root):
    """A params.yaml edited the way ``-S`` edits it (YAML scalars) still loads."""
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    raw["segment"]["length_s"] = yaml.safe_load("1")
    raw["features"]["n_fft"] = yaml.safe_load("512")
    raw["split"]["seed"] = yaml.safe_load("3")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    p = load_params(path)
    assert p.segment.length_s == 1.0 and p.features.n_fft == 512


def test_assignment_is_strict_too():
    p = parse_params({})
    with pytest.raises(Exception):
        p.features.n_fft = 300.5


def test_n_fft_longer_than_a_segment_names_all_three_keys_and_numbers():
    with pytest.raises(ConfigError) as err:
        parse_params({"features": {"n_fft": 8192}, "segment": {"length_s": 0.5}, "audio": {"sample_rate": 8000}})
    msg = str(err.value)
    for part in ("features.n_fft", "segment.length_s", "audio.sample_rate", "8192", "0.5", "8000", "4000"):
        assert part in msg, part
    assert "\n" not in msg.split("\n", 1)[1].strip()  # one problem, one line


def test_n_fft_equal_to_a_segment_is_allowed():
    p = parse_params({"features": {"n_fft": 4000, "hop_length": 100}, "segment": {"length_s": 0.5}})
    assert p.features.n_fft == 4000


def test_hop_longer_than_n_fft_is_refused():
    with pytest.raises(ConfigError, match=r"features\.hop_length \(512\).*features\.n_fft \(256\)"):
        parse_params({"features": {"hop_length": 512}})


def test_fmax_above_nyquist_is_refused():
    with pytest.raises(ConfigError, match=r"features\.fmax \(5000 Hz\).*audio\.sample_rate / 2 \(4000 Hz\)"):
        parse_params({"features": {"fmax": 5000.0}})
    assert parse_params({"features": {"fmax": 4000}}).features.fmax == 4000.0


def test_more_mel_bands_than_linear_bins_is_refused_only_for_mel():
    with pytest.raises(ConfigError, match=r"features\.n_mels \(200\).*129"):
        parse_params({"features": {"kind": "mel", "n_mels": 200}})
    parse_params({"features": {"kind": "linear", "n_mels": 200}})


def test_segment_hop_below_one_sample_is_refused():
    with pytest.raises(ConfigError, match=r"segment\.hop_s.*one sample"):
        parse_params({"segment": {"hop_s": 1e-6}})


def test_several_cross_section_problems_are_listed_together():
    with pytest.raises(ConfigError) as err:
        parse_params({"features": {"n_fft": 8192, "fmax": 9000.0}, "segment": {"length_s": 0.5}})
    assert "features.n_fft" in str(err.value) and "features.fmax" in str(err.value)


def test_stage_refuses_before_work(tmp_path, repo_root):
    """start_stage (every stage's first call) exits 2 with the message, before any work."""
    from audiolens.runtime import start_stage

    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    raw["features"]["n_fft"] = 8192
    raw["segment"]["length_s"] = 0.5
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SystemExit) as exc:
        start_stage("segment", ["--params", str(path)])
    assert exc.value.code == 2


def test_exponent_floats_without_a_dot_are_numbers(tmp_path):
    """``learning_rate: 1e-3`` is a float (YAML 1.2, as DVC reads it), not the string PyYAML makes it."""
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  learning_rate: 1e-3\n  weight_decay: 5E-5\nsegment:\n  length_s: 2.\n"
                    "data:\n  root: 1e3_recordings\n")
    p = load_params(path)
    assert p.train.learning_rate == 1e-3 and p.train.weight_decay == 5e-5 and p.segment.length_s == 2.0
    assert p.data.root == "1e3_recordings"
    path.write_text("train:\n  epochs: 1e2\n")  # a float is still not an int
    with pytest.raises(ConfigError, match="train.epochs"):
        load_params(path)
