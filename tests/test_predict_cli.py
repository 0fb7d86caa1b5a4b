"""``audiolens predict``: configuration problems are one line and exit 2; per-file statuses and
their documented precedence; safe model loading (issue 14). A tiny model is built in-test."""
import json
import os

import numpy as np
import pytest

from audiolens.cli import main
from audiolens.config import parse_params, save_resolved
from audiolens.corpus.demo import synth_utterance, voice_profile
from audiolens.errors import ModelError
from audiolens.inference import EXIT_PRECEDENCE, batch_status

from conftest import write_wav

PARAMS = {"audio": {"sample_rate": 8000}, "segment": {"length_s": 1.0, "tail": "pad"},
          "features": {"kind": "mel", "n_fft": 256, "hop_length": 128, "n_mels": 32}}
SHAPE = (32, 1 + 8000 // 128)  # (F, T) of a 1 s segment at 8 kHz
GATE = {"method": "single", "score": "max_prob", "threshold": 0.0, "members": [0], "mc_samples": 2,
        "mc_layer": None, "seed": 0, "batch_size": 8}


def _tiny_model(shape=SHAPE, n_classes=2, lam=False):
    import keras

    inp = keras.Input((*shape, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inp) if lam else inp
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    _tiny_model().save(d / "model.keras")
    save_resolved(parse_params(PARAMS), d / "resolved_params.yaml")
    (d / "train_meta.json").write_text(json.dumps({"class_names": ["rejected", "allowed"]}))
    return d


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    d = tmp_path_factory.mktemp("wavs")
    sr = 16000
    y = synth_utterance(voice_profile("f1"), duration_s=3.0, sample_rate=sr, noise_lead_s=0.5, snr_db=25.0,
                        rng=np.random.default_rng(0))
    short = np.zeros(sr, np.float32)
    t = np.arange(int(0.1 * sr)) / sr
    short[sr // 2: sr // 2 + t.size] = 0.5 * np.sin(2 * np.pi * 300 * t)
    short += (0.001 * np.random.default_rng(1).standard_normal(sr)).astype(np.float32)
    files = {"good": write_wav(d / "good.wav", y, sr),
             "silent": write_wav(d / "silent.wav", np.zeros(3 * sr, np.float32), sr),
             "short": write_wav(d / "short.wav", short, sr),
             "corrupt": d / "corrupt.wav"}
    files["corrupt"].write_bytes(b"RIFF....WAVEfmt garbage" * 20)
    return {k: str(v) for k, v in files.items()}


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``audiolens predict ...`` in-process."""
    try:
        code = main(["predict", *argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def config_error(capsys, *argv) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (code, out, err)
    assert err.strip() and "\n" not in err.strip(), err  # one line
    assert "Traceback" not in err and out == ""
    return err


@pytest.fixture(autouse=True)
def _cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no reports/ here: the default gate files are absent


def test_a_good_file_is_scored_and_json_has_its_status(capsys, model_dir, wavs):
    code, out, err = run(capsys, wavs["good"], "--model", str(model_dir / "model.keras"), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == 0 and doc["results"][0]["status"] == 0
    assert doc["results"][0]["decision"] in ("accept", "reject", "abstain")


def test_mixed_batch_status_follows_the_documented_precedence(capsys, model_dir, wavs):
    files = [wavs[k] for k in ("good", "short", "silent", "corrupt")]
    code, out, _ = run(capsys, *files, "--model", str(model_dir / "model.keras"), "--json")
    doc = json.loads(out)
    per_file = {os.path.basename(r["file"]): r["status"] for r in doc["results"]}
    assert per_file == {"good.wav": 0, "short.wav": 5, "silent.wav": 4, "corrupt.wav": 3}
    assert code == doc["status"] == 3  # unreadable outranks silent and too short, not the largest code
    code, _, _ = run(capsys, wavs["good"], wavs["short"], wavs["silent"], "--model", str(model_dir / "model.keras"))
    assert code == 4  # silent outranks too short


def test_batch_status_order():
    assert EXIT_PRECEDENCE == (3, 4, 5)
    assert batch_status([0, 0]) == 0 and batch_status([]) == 0
    assert batch_status([5, 3, 4]) == 3 and batch_status([5, 4, 0]) == 4 and batch_status([0, 5]) == 5
    assert batch_status([7, 5]) == 5 and batch_status([7, 0]) == 7  # an unlisted code ranks last


def test_directory_and_fifo_are_named_as_such(capsys, model_dir, tmp_path):
    d = tmp_path / "adir.wav"
    d.mkdir()
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    code, out, _ = run(capsys, str(d), str(fifo), str(tmp_path / "gone.wav"), "--model",
                       str(model_dir / "model.keras"), "--json")
    msgs = {os.path.basename(r["file"]): r["error"]["message"] for r in json.loads(out)["results"]}
    assert code == 3
    assert "is a directory" in msgs["adir.wav"]
    assert "not a regular file (FIFO)" in msgs["pipe.wav"]
    assert "file not found" in msgs["gone.wav"]


@pytest.mark.parametrize("argv, words", [
    (["--min-seconds", "-1"], "--min-seconds"),
    (["--min-seconds", "nan"], "--min-seconds"),
    (["--threshold", "-0.5"], "--threshold"),
    (["--accept-threshold", "1.5"], "--accept-threshold"),
    (["--method", "bayes"], "invalid choice"),
])
def test_argument_ranges(capsys, model_dir, wavs, argv, words):
    err = config_error(capsys, wavs["good"], "--model", str(model_dir / "model.keras"), *argv)
    assert words in err


def _model_copy(model_dir, tmp_path, name="m"):
    d = tmp_path / name
    d.mkdir()
    for f in ("model.keras", "resolved_params.yaml", "train_meta.json"):
        (d / f).write_bytes((model_dir / f).read_bytes())
    return d


def test_model_file_problems(capsys, model_dir, wavs, tmp_path):
    d = _model_copy(model_dir, tmp_path)
    (d / "model.keras").write_bytes(b"this is not a zip archive")
    err = config_error(capsys, wavs["good"], "--model", str(d / "model.keras"))
    assert "not a .keras model" in err and str(d / "model.keras") in err
    err = config_error(capsys, wavs["good"], "--model", str(tmp_path / "nope" / "model.keras"))
    assert "file not found" in err
    (tmp_path / "dir.keras").mkdir()
    assert "is a directory" in config_error(capsys, wavs["good"], "--model", str(tmp_path / "dir.keras"),
                                            "--config", str(d / "resolved_params.yaml"))


def test_model_of_another_config_is_refused(capsys, model_dir, wavs, tmp_path):
    d = _model_copy(model_dir, tmp_path)
    _tiny_model(shape=(16, 10)).save(d / "model.keras")
    err = config_error(capsys, wavs["good"], "--model", str(d / "model.keras"))
    assert "16 x 10" in err and "32 x 63" in err


def test_threshold_above_one_abstains_on_everything(capsys, model_dir, wavs):
    code, out, err = run(capsys, wavs["good"], "--model", str(model_dir / "model.keras"), "--json",
                         "--threshold", "1.01")
    assert code == 0, err
    assert json.loads(out)["results"][0]["decision"] == "abstain"


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({**GATE, "method": "bayes"}), "method 'bayes' is unknown"),
    (json.dumps({**GATE, "score": "vibes"}), "score 'vibes' is unknown"),
    (json.dumps({**GATE, "threshold": "high"}), "threshold must be a finite number"),
    (json.dumps({**GATE, "mc_samples": 0}), "mc_samples"),
    (json.dumps({**GATE, "threshold": 1.5}), "threshold of score max_prob"),
    (json.dumps({**GATE, "members": "all"}), "members must be"),
    (json.dumps({**GATE, "threshold": True}), "threshold must be a finite number"),
])
def test_malformed_abstain_json(capsys, model_dir, wavs, tmp_path, content, words):
    gate = tmp_path / "abstain.json"
    gate.write_text(content)
    err = config_error(capsys, wavs["good"], "--model", str(model_dir / "model.keras"), "--gate", str(gate))
    assert words in err and str(gate) in err


def test_gate_file_given_but_missing_or_a_directory(capsys, model_dir, wavs, tmp_path):
    err = config_error(capsys, wavs["good"], "--model", str(model_dir / "model.keras"),
                       "--gate", str(tmp_path / "none.json"))
    assert "file not found" in err
    err = config_error(capsys, wavs["good"], "--model", str(model_dir / "model.keras"), "--gate", str(tmp_path))
    assert "is a directory" in err


def test_missing_ensemble_member(capsys, model_dir, wavs, tmp_path):
    gate = tmp_path / "abstain.json"
    gate.write_text(json.dumps({**GATE, "method": "ensemble", "members": [0, 1]}))
    err = config_error(capsys, wavs["good"], "--model", str(model_dir / "model.keras"), "--gate", str(gate))
    assert "ensemble member" in err and "ensemble/1/model.keras" in err


@pytest.mark.parametrize("content, words", [("{", "not valid JSON"), ('{"threshold": 7}', "threshold must be"),
                                            ('{"threshold": true}', "threshold must be")])
def test_malformed_operating_point(capsys, model_dir, wavs, tmp_path, content, words):
    op = tmp_path / "threshold.json"
    op.write_text(content)
    err = config_error(capsys, wavs["good"], "--model", str(model_dir / "model.keras"), "--operating-point", str(op))
    assert words in err


def test_malformed_config_and_meta(capsys, model_dir, wavs, tmp_path):
    d = _model_copy(model_dir, tmp_path)
    (d / "train_meta.json").write_text("{oops")
    assert "training metadata" in config_error(capsys, wavs["good"], "--model", str(d / "model.keras"))
    d = _model_copy(model_dir, tmp_path, "m2")
    (d / "resolved_params.yaml").write_text("features:\n  n_fft: 256.5\n")
    assert "features.n_fft" in config_error(capsys, wavs["good"], "--model", str(d / "model.keras"))


def test_lambda_model_is_refused_not_run(capsys, model_dir, wavs, tmp_path):
    """safe_mode: a .keras holding Python code (a Lambda layer) is refused with the file named."""
    from audiolens.models.registry import load_model

    d = _model_copy(model_dir, tmp_path)
    _tiny_model(lam=True).save(d / "model.keras")
    with pytest.raises(ModelError, match="Lambda") as err:
        load_model(d / "model.keras")
    assert str(d / "model.keras") in str(err.value)
    err = config_error(capsys, wavs["good"], "--model", str(d / "model.keras"))
    assert "Lambda" in err and str(d / "model.keras") in err
