"""A hostile corpus through ``dvc repro split``: it completes, every bad input is listed with its
reason, raw files stay byte-identical, and forced reruns reproduce every output byte for byte.

The corpus is built at run time (a CSV manifest, ``data.layout: csv``): corrupt, empty,
zero-length, NaN and inf, silence, stereo, 8 kHz and 192 kHz, 24-bit, float, a 10-minute file
(2 kHz, quiet but for a few seconds, so it stays cheap), unicode and quoted names, symlinks
inside and out of the root, ``../`` and absolute paths, a duplicated row with another label,
a missing file, a one-recording class, an id collision (``sub/clash.wav`` vs
``sub__clash.wav``), a truncated WAV, the same audio under two labels and under one, a 1 Hz
"recording", and a clip too short for an original segment in the augmented class.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import BIN, copy_project, sh, write_wav

pytestmark = pytest.mark.slow

PARAMS = {
    "data": {"layout": "csv", "root": "corpus/audio", "manifest": "corpus/meta.csv", "filename_column": "filename",
             "label": "category", "positive": None, "class_names": ["alpha", "beta"], "speaker": None,
             "group": None, "fold": None, "n_jobs": 1},
    "audio": {"sample_rate": 8000, "n_jobs": 2},
    "segment": {"length_s": 1.0, "hop_s": None, "tail": "keep", "min_tail_s": 0.5},
    "augment": {"enabled": True, "factors": [0.5], "select_by": "label", "values": ["alpha"]},
    "features": {"kind": "linear", "n_fft": 128, "hop_length": 128, "export_png": 0},
}


def voice(seed: int, sec: float = 2.0, sr: int = 8000, lead_s: float = 0.4) -> np.ndarray:
    """A distinct voiced-like signal: a noise lead, then an AM harmonic series over noise (float32)."""
    rng = np.random.default_rng(seed)
    n, t = int(sec * sr), np.arange(int(sec * sr)) / sr
    f0 = rng.uniform(110, 240)
    harm = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 6) if k * f0 < sr / 2.2)
    env = (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)) * (t >= lead_s)
    return (0.25 * env * harm / 2 + 0.01 * rng.standard_normal(n)).astype(np.float32)


def build_corpus(proj: Path) -> dict[str, str]:
    """Write the corpus under ``proj/corpus`` and return {listed path: expected reason} for bad inputs."""
    root, outside = proj / "corpus" / "audio", proj / "corpus" / "outside"
    rows: list[tuple[str, str]] = []
    seed = iter(range(1000))
    for label in ("alpha", "beta"):
        for i in range(6):
            write_wav(root / f"{label}{i}.wav", voice(next(seed)), 8000)
            rows.append((f"{label}{i}.wav", label))
    good = {  # unusual but usable
        "stereo.wav": (np.stack([voice(next(seed)), voice(next(seed))], 1), 8000, "PCM_16", "alpha"),
        "rate192k_24bit.wav": (voice(next(seed), sr=192000), 192000, "PCM_24", "beta"),
        "float.wav": (voice(next(seed)) * 2, 8000, "FLOAT", "alpha"),
        "ünïcødé_日本.wav": (voice(next(seed)), 8000, "PCM_16", "beta"),
        "it's \"quoted\", really.wav": (voice(next(seed)), 8000, "PCM_16", "alpha"),
        "sub/clash.wav": (voice(next(seed)), 8000, "PCM_16", "alpha"),
        "sub__clash.wav": (voice(next(seed)), 8000, "PCM_16", "beta"),
        "silence.wav": (np.zeros(16000, np.float32), 8000, "PCM_16", "beta"),
        "short.wav": (voice(next(seed), sec=0.45, lead_s=0.0), 8000, "PCM_16", "alpha"),
    }
    long = 0.0005 * np.random.default_rng(99).standard_normal(600 * 2000).astype(np.float32)
    long[2000:2000 + 3 * 2000] += voice(next(seed), sec=3.0, sr=2000, lead_s=0.0)  # 3 s of sound in 10 min
    good["long_10min.wav"] = (long, 2000, "PCM_16", "beta")
    for name, (y, sr, subtype, label) in good.items():
        write_wav(root / name, y, sr, subtype)
        rows.append((name, label))
    bad: dict[str, str] = {}

    def add(name: str, label: str, reason: str) -> None:
        rows.append((name, label))
        bad[name] = reason

    (root / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" * 20)
    add("corrupt.wav", "alpha", "unreadable")
    (root / "empty.wav").write_bytes(b"")
    add("empty.wav", "beta", "empty file")
    write_wav(root / "zero.wav", np.zeros(0, np.float32), 8000)
    add("zero.wav", "alpha", "zero-length")
    write_wav(root / "nan.wav", np.r_[voice(next(seed))[:4000], np.nan].astype(np.float32), 8000, "FLOAT")
    add("nan.wav", "alpha", "non-finite samples")
    write_wav(root / "inf.wav", np.r_[voice(next(seed))[:4000], np.inf].astype(np.float32), 8000, "FLOAT")
    add("inf.wav", "beta", "non-finite samples")
    full = write_wav(root / "trunc.wav", voice(next(seed), sec=5.0), 8000).read_bytes()
    (root / "trunc.wav").write_bytes(full[:44 + int(1.7 * 8000) * 2])
    add("trunc.wav", "alpha", "truncated")
    write_wav(root / "one_hz.wav", voice(next(seed), sec=20000, sr=1, lead_s=0.0), 1)
    add("one_hz.wav", "beta", "sample rate out of range")
    write_wav(root / "gamma0.wav", voice(next(seed)), 8000)
    add("gamma0.wav", "gamma", "label not in class_names")  # a one-recording class
    add("gone.wav", "alpha", "missing file")
    # the same bytes under one label (kept once), the same samples under two labels (all refused)
    (root / "copy_alpha1.wav").write_bytes((root / "alpha1.wav").read_bytes())
    add("copy_alpha1.wav", "alpha", "duplicate content")
    y, _ = sf.read(str(root / "alpha2.wav"), dtype="int16")
    sf.write(str(root / "alpha2_as_beta.flac"), y, 8000, subtype="PCM_16")
    add("alpha2_as_beta.flac", "beta", "conflicting labels")
    bad["alpha2.wav"] = "conflicting labels"
    (root / "link_in.wav").symlink_to("beta1.wav")  # symlink inside the root, same label
    add("link_in.wav", "beta", "duplicate content")
    write_wav(outside / "secret.wav", voice(next(seed)), 8000)
    (root / "link_out.wav").symlink_to(Path("..") / "outside" / "secret.wav")
    add("link_out.wav", "alpha", "path escapes data root")
    add("../outside/secret.wav", "alpha", "path escapes data root")
    add(str(outside / "secret.wav"), "beta", "path escapes data root")
    rows.append((str(root / "alpha3.wav"), "alpha"))  # an absolute path inside the root is fine...
    rows.append(("beta2.wav", "alpha"))  # ...a duplicated row with another label is not
    bad["beta2.wav"] = "conflicting rows"
    bad["alpha3.wav"] = "duplicate row"  # alpha3.wav and its absolute spelling: one recording, kept
    pd.DataFrame(rows, columns=["filename", "category"]).to_csv(proj / "corpus" / "meta.csv", index=False)
    return bad


def tree_digest(root: Path) -> dict[str, str]:
    """Each path under ``root`` -> hash of (link target or bytes, mtime)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "link:" + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() + f":{p.stat().st_mtime_ns}"
    return out


def out_digest(proj: Path) -> dict[str, str]:
    return {str(p.relative_to(proj)): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in ("data/interim", "data/processed", "reports") for p in sorted((proj / d).rglob("*"))
            if p.is_file() and "resolved_params" not in p.name} | {"dvc.lock": (proj / "dvc.lock").read_text()}


def test_hostile_corpus_through_split(repo_root, tmp_path):
    proj = tmp_path / "proj"
    env = copy_project(repo_root, proj, skip=("data/", "models/", "reports/", "dvc.lock"), params=PARAMS)
    if not (proj / ".dvc").is_dir():
        sh([str(BIN / "dvc"), "init", "-q"], proj, env)
    bad = build_corpus(proj)
    raw_before = tree_digest(proj / "corpus")
    digests = []
    for args in (["repro", "split"], ["repro", "-f", "split"], ["repro", "-f", "split"]):
        sh([str(BIN / "dvc"), *args], proj, env, timeout=900)
        digests.append(out_digest(proj))
    assert tree_digest(proj / "corpus") == raw_before, "raw files changed"
    assert digests[0] == digests[1] == digests[2], sorted(
        k for k in digests[0] if not digests[0][k] == digests[1].get(k) == digests[2].get(k))

    skipped = pd.read_csv(proj / "reports/ingest/skipped.csv", keep_default_na=False)
    got = dict(zip(skipped.path, skipped.reason))
    for name, reason in bad.items():
        assert got.get(name) == reason, (name, got.get(name), reason)
    assert set(got) == set(bad), set(got) ^ set(bad)
    dups = pd.read_csv(proj / "reports/ingest/duplicates.csv")
    assert set(zip(dups.path_a, dups.path_b, dups.kind)) == {
        ("alpha1.wav", "copy_alpha1.wav", "sha256"), ("alpha2.wav", "alpha2_as_beta.flac", "audio"),
        ("beta1.wav", "link_in.wav", "sha256")}

    manifest = pd.read_csv(proj / "data/interim/ingest/manifest.csv", keep_default_na=False)
    assert manifest["id"].is_unique and manifest["audio_sha256"].is_unique
    assert {"sub/clash.wav", "sub__clash.wav", "ünïcødé_日本.wav", "it's \"quoted\", really.wav",
            "long_10min.wav", "rate192k_24bit.wav", "stereo.wav", "float.wav", "short.wav"} <= set(manifest.path)
    assert set(bad) & set(manifest.path) == {"alpha3.wav"}  # listed twice, used once
    assert {"alpha1.wav", "beta1.wav"} <= set(manifest.path)  # the first of each same-label copy group
    # silence and the short clip are dropped later, each listed with its reason
    later = pd.concat([pd.read_csv(proj / f"reports/{s}/skipped.csv", keep_default_na=False)
                       for s in ("clean", "segment", "augment")])
    ids = dict(zip(manifest.path, manifest["id"]))
    assert ids["silence.wav"] in set(later["id"]) and ids["short.wav"] in set(later["id"])
    # split ran; the short clip gave no original segment, so it was not stretched either
    split = pd.read_csv(proj / "data/processed/split/split.csv", keep_default_na=False)
    assert set(split.split) >= {"train", "val", "test"}
    assert not split.segment_id.str.startswith(ids["short.wav"]).any()
