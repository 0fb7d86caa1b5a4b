"""The gate's out-of-distribution check: detector, threshold, generated OOD set, speech presence, ood.npz."""
from __future__ import annotations

import numpy as np
import pytest

from audiolens.errors import ModelError
from audiolens.ood.check import NO_SPEECH, OUT_OF_DISTRIBUTION, OODCheck, apply_check, describe, prepared_audio
from audiolens.ood.detector import auroc, fit_detector, pass_threshold, recording_scores
from audiolens.ood.signals import OOD_KINDS, SpeechThresholds, generate_ood_set, speech_features, speech_presence

SPEECH = SpeechThresholds(min_modulation=0.2, min_pitch_st=0.5, max_steady=0.8, min_voiced=0.3)


def _clusters(n: int, seed: int, *, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of 16-D embeddings around two directions (``shift`` moves them elsewhere)."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((2, 16))
    centres[0, 0], centres[1, 1] = 5.0, 5.0
    centres[:, 2] += shift
    y = rng.integers(0, 2, n)
    return centres[y] + rng.standard_normal((n, 16)) * 0.5, y


# ---------------------------------------------------------------- detector and threshold

@pytest.mark.parametrize("rate", [0.5, 0.9, 0.99, 1.0])
def test_pass_threshold_is_the_smallest_score_giving_the_rate(rate):
    s = np.random.default_rng(1).gamma(2.0, size=137)
    t = pass_threshold(s, rate)
    assert t in s
    assert np.mean(s <= t) >= rate
    below = s[s < t]
    assert below.size == 0 or np.mean(s <= below.max()) < rate  # any smaller observed score misses the rate


def test_pass_threshold_refuses_bad_input():
    with pytest.raises(ValueError, match="no validation scores"):
        pass_threshold(np.array([]), 0.99)
    with pytest.raises(ValueError, match="pass_rate"):
        pass_threshold(np.ones(3), 0.0)


@pytest.mark.parametrize("method", ["knn", "mahalanobis"])
def test_detector_threshold_passes_the_validation_rate_and_rejects_far_points(method):
    train, y = _clusters(400, 0)
    val, _ = _clusters(300, 1)
    far, _ = _clusters(100, 2, shift=6.0)  # off the training manifold (a new direction)
    det = fit_detector(train, y, method=method, k=5)
    rec_ids = np.repeat(np.arange(100), 3)  # 100 recordings of 3 segments
    ids, rec = recording_scores(det.score(val), rec_ids)
    assert len(ids) == 100
    t = pass_threshold(rec, 0.99)
    assert np.mean(rec <= t) >= 0.99
    out = det.score(far)
    assert auroc(det.score(val), out) > 0.99
    assert np.mean(out > t) > 0.9


def test_knn_uses_the_direction_only_and_the_kth_neighbour():
    ref = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
    det = fit_detector(ref, np.zeros(3, int), method="knn", k=2)
    q = np.array([[0.0, 10.0], [3.0, 0.0]])  # same directions as the reference rows, other lengths
    got = det.score(q)
    assert got[0] == pytest.approx(0.0, abs=1e-7)  # two unit copies of (0, 1): 2nd neighbour at distance 0
    assert got[1] == pytest.approx(np.sqrt(2.0))  # 2nd neighbour of (1, 0) is (0, 1)


def test_recording_scores_are_segment_means():
    ids, s = recording_scores(np.array([1.0, 3.0, 10.0]), ["b", "b", "a"])
    assert list(ids) == ["a", "b"] and list(s) == [10.0, 2.0]


def test_fit_refuses_bad_k_and_method():
    train, y = _clusters(10, 0)
    with pytest.raises(ValueError, match="k must be"):
        fit_detector(train, y, method="knn", k=10)
    with pytest.raises(ValueError, match="unknown OOD method"):
        fit_detector(train, y, method="lof", k=1)


# ---------------------------------------------------------------- ood.npz

@pytest.mark.parametrize("method", ["knn", "mahalanobis"])
def test_check_file_round_trip_without_pickle(tmp_path, method):
    train, y = _clusters(50, 0)
    check = OODCheck(detector=fit_detector(train, y, method=method, k=3), threshold=0.7, require_speech=True,
                     speech=SPEECH, batch_size=8)
    path = check.save(tmp_path / "ood.npz")
    with np.load(path, allow_pickle=False) as z:  # every array is a plain dtype
        assert all(z[k].dtype != object for k in z.files)
    back = OODCheck.load(path)
    assert back.threshold == 0.7 and back.require_speech and back.speech == SPEECH and back.batch_size == 8
    np.testing.assert_array_equal(back.detector.score(train[:7]), check.detector.score(train[:7]))


def test_a_broken_check_file_is_a_model_error_naming_it(tmp_path):
    bad = tmp_path / "ood.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="ood.npz"):
        OODCheck.load(bad)
    np.savez(bad, threshold=np.array(1.0))  # readable, but arrays missing
    with pytest.raises(ModelError, match="ood.npz"):
        OODCheck.load(bad)


def test_apply_check_abstains_with_the_reason():
    ok = {"passed": True, "reason": None, "score": 0.2, "threshold": 0.5, "method": "knn", "speech": None}
    r = apply_check({"decision": "accept"}, ok)
    assert r["decision"] == "accept" and "reason" not in r and "ood=0.200" in describe(r)
    for reason in (OUT_OF_DISTRIBUTION, NO_SPEECH):
        r = apply_check({"decision": "accept"}, {**ok, "passed": False, "reason": reason})
        assert r["decision"] == "abstain" and r["reason"] == reason and f"[{reason}]" in describe(r)
    assert apply_check({"decision": "reject"}, None) == {"decision": "reject", "ood": None}
    assert describe({"decision": "reject", "ood": None}) == ""


def test_prepared_audio_rebuilds_the_cleaned_signal():
    from types import SimpleNamespace

    sr, length = 100, 30
    clean = np.arange(1, 71, dtype=np.float32)  # 0.7 s; segments at 0, 30 and a padded tail at 60
    padded = np.zeros(90, np.float32)
    padded[:70] = clean
    prep = SimpleNamespace(sample_rate=sr, segments_audio=np.stack([padded[s:s + length] for s in (0, 30, 60)]),
                           starts_s=np.array([0.0, 0.3, 0.6]), info={"duration_out_s": 0.7})
    np.testing.assert_array_equal(prepared_audio(prep), clean)


# ---------------------------------------------------------------- generated OOD set

def test_generated_set_is_deterministic_and_covers_every_kind():
    a = generate_ood_set(n_clips=27, duration_s=1.0, sample_rate=8000, seed=3)
    b = generate_ood_set(n_clips=27, duration_s=1.0, sample_rate=8000, seed=3)
    c = generate_ood_set(n_clips=27, duration_s=1.0, sample_rate=8000, seed=4)
    assert [x.name for x in a] == [x.name for x in b]
    assert all(np.array_equal(x.audio, y.audio) for x, y in zip(a, b))
    assert not all(np.array_equal(x.audio, y.audio) for x, y in zip(a, c))
    assert [x.kind for x in a] == list(OOD_KINDS) * 3
    for x in a:
        assert x.audio.shape == (8000,) and x.audio.dtype == np.float32 and x.sample_rate == 8000
        assert np.all(np.isfinite(x.audio)) and 0.04 < np.max(np.abs(x.audio)) <= 0.91
    assert len({x.name for x in a}) == 27


def test_generated_set_refuses_bad_sizes():
    with pytest.raises(ValueError):
        generate_ood_set(n_clips=0, duration_s=1.0, sample_rate=8000, seed=0)


# ---------------------------------------------------------------- speech presence

def _syllables(sr: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A harmonic voice whose pitch glides per syllable, in 4-per-second syllables with short gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    f0 = 140.0 * 2 ** (3 * np.sin(2 * np.pi * 0.7 * t) / 12 + rng.uniform(-0.1, 0.1))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = sum(np.sin(h * phase) / h for h in range(1, 12) if 140 * h < 0.45 * sr)
    env = np.clip(np.sin(2 * np.pi * 4.0 * t) + 0.4, 0, None) ** 0.5  # syllables, short silences between
    return (voice * env + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("sr", [8000, 16000])
def test_speech_presence_separates_syllables_from_a_tone(sr):
    t = np.arange(3 * sr) / sr
    speech = speech_presence(_syllables(sr, 3.0), sr, SPEECH)
    assert speech["passed"], speech
    tone = speech_presence(0.5 * np.sin(2 * np.pi * 440 * t), sr, SPEECH)
    assert not tone["passed"] and tone["modulation"] < 0.05 and tone["pitch_st"] < 0.2
    am = speech_presence(0.5 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 4 * t)) / 2, sr, SPEECH)
    assert not am["passed"] and am["modulation"] > 0.2 and am["pitch_st"] < 0.2  # syllable rate, one pitch
    noise = speech_presence(np.random.default_rng(0).standard_normal(3 * sr), sr, SPEECH)
    assert not noise["passed"] and noise["voiced"] < 0.1
    melodies = [c.audio for c in generate_ood_set(n_clips=45, duration_s=3.0, sample_rate=sr, seed=0)
                if c.kind == "harmonics"]
    for y in melodies:  # syllable-rate notes of varying pitch, but each note holds its pitch
        f = speech_presence(y, sr, SPEECH)
        assert not f["passed"] and f["pitch_steady"] > SPEECH.max_steady, f


def test_speech_presence_passes_demo_speech():
    from audiolens.corpus.demo import synth_utterance, voice_profile

    for spk in ("f3", "m4"):
        y = synth_utterance(voice_profile(spk), duration_s=6.0, sample_rate=8000, noise_lead_s=0.5, snr_db=20.0,
                            rng=np.random.default_rng(0))
        assert speech_presence(y, 8000, SPEECH)["passed"], (spk, speech_features(y, 8000))


def test_speech_features_of_silence_and_short_input_are_zero():
    for y in (np.zeros(8000), np.zeros(10)):
        f = speech_features(y, 8000)
        assert f["modulation"] == 0.0 and f["pitch_st"] == 0.0 and f["voiced"] == 0.0


# ---------------------------------------------------------------- params

def test_gate_params_are_validated():
    from audiolens.config import ConfigError, parse_params

    assert parse_params({}).gate.pass_rate == 0.99
    with pytest.raises(ConfigError, match="gate.pass_rate"):
        parse_params({"gate": {"pass_rate": 1.5}})
    with pytest.raises(ConfigError, match="gate.method"):
        parse_params({"gate": {"method": "lof"}})
    with pytest.raises(ConfigError, match="gate.unseen_speakers"):
        parse_params({"gate": {"unseen_speakers": ["f1", "x9"]}})  # f1 is a demo (training) speaker


# ---------------------------------------------------------------- the check on a prepared recording (predict's path)

def test_check_on_prepared_recordings_abstains_for_the_right_reason(tmp_path):
    """prepare_recording -> OODCheck.evaluate -> apply_check, as `audiolens predict` runs them."""
    from audiolens.predictor import recording_settings
    from audiolens.config import parse_params
    from audiolens.corpus.demo import synth_utterance, voice_profile
    from audiolens.inference import prepare_recording
    from audiolens.ood.detector import embed

    from conftest import small_cnn, write_wav

    params = parse_params({"audio": {"sample_rate": 8000}, "segment": {"length_s": 1.0, "tail": "pad"},
                           "features": {"kind": "mel", "n_fft": 256, "hop_length": 128, "n_mels": 32}})
    settings = recording_settings(params)
    voice = synth_utterance(voice_profile("m2"), duration_s=4.0, sample_rate=16000, noise_lead_s=0.5, snr_db=25.0,
                            rng=np.random.default_rng(0))
    t = np.arange(4 * 16000) / 16000
    burst = 0.5 * np.sin(2 * np.pi * 300 * t) * (1 - 0.9 * ((t * 4) % 1.0 < 0.5))  # level moves, pitch does not
    prep_voice = prepare_recording(write_wav(tmp_path / "v.wav", voice, 16000), **settings)
    prep_burst = prepare_recording(write_wav(tmp_path / "b.wav", burst.astype(np.float32), 16000), **settings)
    model = small_cnn(prep_voice.x.shape[1:], n_classes=2)
    ref = embed(model, prep_voice.x, batch_size=4)
    det = fit_detector(np.concatenate([ref, ref + 1e-3]), np.zeros(2 * len(ref), int), method="mahalanobis", k=1)

    def check(threshold: float) -> OODCheck:
        return OODCheck(detector=det, threshold=threshold, require_speech=True, speech=SPEECH, batch_size=4)

    ok = check(np.inf).evaluate(model, prep_voice)
    assert ok["passed"] and ok["reason"] is None and ok["speech"]["passed"] and ok["method"] == "mahalanobis"
    far = check(-1.0).evaluate(model, prep_voice)  # nothing is within a negative distance
    assert not far["passed"] and far["reason"] == OUT_OF_DISTRIBUTION
    tone = check(np.inf).evaluate(model, prep_burst)
    assert not tone["passed"] and tone["reason"] == NO_SPEECH and tone["speech"]["pitch_steady"] > 0.8
    r = apply_check({"decision": "accept", "label": "allowed"}, tone)
    assert r["decision"] == "abstain" and r["reason"] == NO_SPEECH and r["label"] == "allowed"
    no_speech_needed = OODCheck(detector=det, threshold=np.inf, require_speech=False, speech=SPEECH, batch_size=4)
    assert no_speech_needed.evaluate(model, prep_burst) | {"score": 0} == {
        "passed": True, "reason": None, "score": 0, "threshold": np.inf, "method": "mahalanobis", "speech": None}
