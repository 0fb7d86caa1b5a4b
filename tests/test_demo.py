import numpy as np
import soundfile as sf

from audiolens.corpus.demo import voice_profile, write_demo_corpus


def frame_db(y, n=400):
    f = y[: len(y) // n * n].reshape(-1, n)
    return 10 * np.log10((f.astype(float) ** 2).mean(1) + 1e-12)


def test_demo_is_deterministic_and_daps_named(tmp_path):
    kw = dict(speakers=["f1", "m3"], scripts=2, duration_s=4.0, sample_rate=16000, noise_lead_s=0.5,
              snr_db=20.0, seed=0)
    a = write_demo_corpus(tmp_path / "a", **kw)
    b = write_demo_corpus(tmp_path / "b", **kw)
    assert [p.name for p in a] == ["f1_script1_room.wav", "f1_script2_room.wav",
                                   "m3_script1_room.wav", "m3_script2_room.wav"]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))
    c = write_demo_corpus(tmp_path / "c", **{**kw, "seed": 1})
    assert a[0].read_bytes() != c[0].read_bytes()


def test_demo_has_noise_lead_pauses_and_speaker_pitch(tmp_path):
    paths = write_demo_corpus(tmp_path, speakers=["f2", "m2"], scripts=1, duration_s=8.0,
                              sample_rate=16000, noise_lead_s=0.5, snr_db=20.0, seed=0)
    for p in paths:
        y, sr = sf.read(p)
        assert sr == 16000 and len(y) == 8 * 16000
        db = frame_db(y)
        lead = db[: int(0.5 * sr) // 400]
        assert lead.max() < np.percentile(db, 90) - 12  # the lead is background noise only
        # pauses: a good share of frames near the noise floor, silence removal has work
        assert (db < lead.mean() + 3).mean() > 0.1
    assert voice_profile("f2").f0_hz > 160 > 150 > voice_profile("m2").f0_hz
