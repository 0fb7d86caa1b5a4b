import numpy as np
import pytest

from audiolens.config import ConfigError, parse_params
from audiolens.corpus.demo import voice_profile, synth_utterance
from audiolens.inference import (EXIT_SILENT, EXIT_TOO_SHORT, EXIT_UNREADABLE, PredictError,
                                 prepare_recording, recording_decision)
from audiolens.predictor import recording_settings

from conftest import write_wav

PARAMS = parse_params({"audio": {"sample_rate": 8000}, "segment": {"length_s": 1.0, "tail": "pad"},
                       "features": {"kind": "mel", "n_fft": 256, "hop_length": 128, "n_mels": 32}})


def speech(seconds=3.0, sr=16000, seed=0):
    return synth_utterance(voice_profile("f1"), duration_s=seconds, sample_rate=sr, noise_lead_s=0.5,
                           snr_db=25.0, rng=np.random.default_rng(seed))


def test_short_tail_dropped_by_policy_is_not_scored(tmp_path):
    params = parse_params({**PARAMS.model_dump(mode="json"),
                           "segment": {"length_s": 1.0, "tail": "keep", "min_tail_s": 0.9}})
    prep = prepare_recording(write_wav(tmp_path / "a.wav", speech(seconds=4.0), 16000), **recording_settings(params))
    assert prep.x.shape[0] == int(prep.info["duration_out_s"] // 1.0)  # the short tail is dropped


def test_prepare_matches_configured_shape_and_segments(tmp_path):
    p = write_wav(tmp_path / "a.wav", np.stack([speech(), speech()], 1), 16000)  # stereo, 16 kHz
    prep = prepare_recording(p, **recording_settings(PARAMS))
    cfg = recording_settings(PARAMS)["spectrogram"]
    k = prep.x.shape[0]
    assert prep.x.shape == (k, 32, cfg.n_frames(8000)) and k >= 1
    assert prep.segments_audio.shape == (k, 8000) and prep.sample_rate == 8000
    assert prep.x.max() <= 0 and prep.x.min() >= -PARAMS.features.top_db
    # silence removal shortened the recording; segments cover the kept sound
    assert prep.info["duration_out_s"] < prep.info["duration_in_s"]
    assert k == int(np.ceil(prep.info["duration_out_s"] / 1.0))


@pytest.mark.parametrize("snr_db", [0.0, 3.0])
def test_noisy_speech_is_not_mistaken_for_noise(tmp_path, snr_db):
    y = synth_utterance(voice_profile("m2"), duration_s=4.0, sample_rate=16000, noise_lead_s=0.5,
                        snr_db=snr_db, rng=np.random.default_rng(1))
    prep = prepare_recording(write_wav(tmp_path / "a.wav", y, 16000), **recording_settings(PARAMS))
    assert prep.x.shape[0] >= 3


@pytest.mark.parametrize("kind,code", [("silence", EXIT_SILENT), ("noise", EXIT_SILENT),
                                       ("corrupt", EXIT_UNREADABLE), ("missing", EXIT_UNREADABLE),
                                       ("short", EXIT_TOO_SHORT)])
def test_bad_inputs_get_distinct_codes(tmp_path, kind, code):
    sr = 16000
    rng = np.random.default_rng(0)
    path = tmp_path / f"{kind}.wav"
    if kind == "silence":
        write_wav(path, np.zeros(3 * sr, np.float32), sr)
    elif kind == "noise":
        write_wav(path, (0.05 * rng.standard_normal(3 * sr)).astype(np.float32), sr)
    elif kind == "corrupt":
        path.write_bytes(b"RIFF....WAVEfmt garbage" * 20)
    elif kind == "short":
        y = np.zeros(sr, np.float32)
        t = np.arange(int(0.1 * sr)) / sr
        y[sr // 2: sr // 2 + t.size] = 0.5 * np.sin(2 * np.pi * 300 * t)
        y += (0.001 * rng.standard_normal(sr)).astype(np.float32)
        write_wav(path, y, sr)
    with pytest.raises(PredictError) as err:
        prepare_recording(path, **recording_settings(PARAMS), min_seconds=0.25)
    assert err.value.code == code and str(path) in str(err.value)


def test_decision_gate_accept_reject_abstain():
    names = ["rejected", "allowed"]
    sure_yes = np.tile([[0.05, 0.95]], (5, 3, 1))  # S=5 passes, k=3 segments, all agree
    r = recording_decision(sure_yes, score="max_prob", threshold=0.7, class_names=names, positive_index=1)
    assert r["decision"] == "accept" and r["label"] == "allowed" and r["confidence"] == pytest.approx(0.95)
    assert r["uncertainty"]["mutual_info"] == pytest.approx(0.0, abs=1e-9)
    r = recording_decision(sure_yes[..., ::-1], score="max_prob", threshold=0.7, class_names=names,
                           positive_index=1)
    assert r["decision"] == "reject"
    # passes disagree: mean is 50/50 → abstain on max_prob and on mutual information
    split = np.concatenate([np.tile([[0.0, 1.0]], (3, 2, 1)), np.tile([[1.0, 0.0]], (3, 2, 1))])
    assert recording_decision(split, score="max_prob", threshold=0.7, class_names=names,
                              positive_index=1)["decision"] == "abstain"
    r = recording_decision(split, score="mutual_info", threshold=0.1, class_names=names, positive_index=1)
    assert r["decision"] == "abstain" and r["uncertainty"]["mutual_info"] == pytest.approx(np.log(2))


def test_decision_multiclass_and_single_model_fallback():
    names = ["cat", "dog", "crow"]
    probs = np.array([[[0.1, 0.8, 0.1], [0.2, 0.6, 0.2]]])  # S=1
    r = recording_decision(probs, score="mutual_info", threshold=0.1, class_names=names, positive_index=None)
    assert r["decision"] == "dog" and r["uncertainty"]["score"] == "max_prob"
    assert r["probabilities"]["dog"] == pytest.approx(0.7)


def test_accept_threshold_gates_on_the_positive_probability():
    """accept when P(positive) >= the operating threshold, whatever the most probable class."""
    names = ["rejected", "allowed"]
    p_pos = np.tile([[0.65, 0.35]], (1, 2, 1))  # mean P(allowed) = 0.35
    kw = dict(score="max_prob", threshold=0.0, class_names=names, positive_index=1)
    assert recording_decision(p_pos, **kw)["decision"] == "reject"  # argmax without a threshold
    r = recording_decision(p_pos, accept_threshold=0.3, **kw)
    assert r["decision"] == "accept" and r["label"] == "allowed"
    assert recording_decision(p_pos, accept_threshold=0.35, **kw)["decision"] == "accept"  # >= is accept
    r = recording_decision(p_pos[..., ::-1], accept_threshold=0.7, **kw)  # P(allowed) = 0.65 < 0.7
    assert r["decision"] == "reject" and r["label"] == "rejected"


def test_cli_reads_the_operating_point(tmp_path, monkeypatch):
    from audiolens.cli import build_parser, gate_files
    from audiolens.predictor import accept_threshold

    def _accept_threshold(args):
        return accept_threshold(gate_files(args))

    op = tmp_path / "threshold.json"
    op.write_text('{"threshold": 0.27, "method": "eer"}')
    args = build_parser().parse_args(["predict", "x.wav", "--operating-point", str(op)])
    assert _accept_threshold(args) == (0.27, str(op))
    args = build_parser().parse_args(["predict", "x.wav", "--operating-point", str(op), "--accept-threshold", "0.8"])
    assert _accept_threshold(args) == (0.8, "--accept-threshold")
    args = build_parser().parse_args(["predict", "x.wav", "--operating-point", str(tmp_path / "none.json")])
    with pytest.raises(ConfigError, match="none.json: file not found"):  # given, so it must exist
        _accept_threshold(args)
    args = build_parser().parse_args(["predict", "x.wav"])  # the default file is optional
    monkeypatch.chdir(tmp_path)
    assert _accept_threshold(args) == (None, "most probable class")
