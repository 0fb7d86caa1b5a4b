"""Shared fixtures: paths, the ../shared/data corpus (skipped when absent), quiet DVC."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repo; the test is skipped when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED


def write_wav(path: Path, y: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, subtype=subtype)
    return path


BIN = Path(__import__("sys").executable).parent


def sh(cmd: list[str], cwd: Path, env: dict, timeout: int = 900):
    """Run a command; on failure raise with the tail of its output."""
    import subprocess

    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-8000:]}")
    return res


def project_env() -> dict:
    """Environment to run git/dvc in a temp project: analytics off, a git identity, the venv first on PATH."""
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}:{os.environ['PATH']}", "TQDM_DISABLE": "1",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t", "TF_CPP_MIN_LOG_LEVEL": "2"}


def copy_project(repo_root: Path, dest: Path, *, params: dict | None = None,
                 skip: tuple[str, ...] = ()) -> dict:
    """Copy the working tree (tracked + untracked-not-ignored files) into ``dest`` as a fresh git repo.

    ``params`` is deep-merged over ``params.yaml``; paths starting with ``skip`` are left out.
    Returns the environment to run git/dvc in (analytics off, a git identity, the venv first on PATH).
    """
    import shutil
    import subprocess

    import yaml

    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=repo_root,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        if (repo_root / rel).is_file() and not rel.startswith(skip or ("\0",)):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo_root / rel, dest / rel)

    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    if params:
        merged = merge(yaml.safe_load((dest / "params.yaml").read_text()), params)
        (dest / "params.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    env = project_env()
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        sh(cmd, dest, env)
    return env


def small_cnn(shape: tuple[int, int], *, n_classes: int, conv2: int = 6, dense: int = 8, seed: int = 0):
    """A seeded contract CNN (``embedding``, linear ``logits``, ``probs``) on ``(F, T, 1)`` dB input."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((*shape, 1))
    h = keras.layers.Rescaling(1 / 40.0, offset=1.0)(inp)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(h)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(conv2, 3, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dense(dense, activation="relu", name="embedding")(h)
    logits = keras.layers.Dense(n_classes, name="logits")(h)
    return keras.Model(inp, keras.layers.Activation("softmax", name="probs")(logits))


def clean_settings(*, sample_rate: int, **overrides):
    """:class:`audiolens.audio.CleanSettings` from the schema's (= params.yaml's) ``clean`` defaults."""
    import dataclasses

    from audiolens.audio import CleanSettings
    from audiolens.config import Params, to_settings

    return dataclasses.replace(to_settings(Params().clean, CleanSettings, sample_rate=sample_rate), **overrides)


def spectrogram_settings(*, sample_rate: int, **overrides):
    """:class:`audiolens.features.SpectrogramConfig` from the schema's ``features`` defaults + overrides."""
    import dataclasses

    from audiolens.config import Params, to_settings
    from audiolens.features import SpectrogramConfig

    base = to_settings(Params().features, SpectrogramConfig, sample_rate=sample_rate)
    return dataclasses.replace(base, **overrides)


#: float16 convolutions on the CPU need oneDNN at AVX2 or above: under ONEDNN_MAX_CPU_ISA=SSE41 (CI's second
#: pass) a CPU with AVX512-FP16 (Sapphire Rapids) makes TensorFlow pick oneDNN's float16 path, which then
#: cannot create the primitive ("could not create a primitive descriptor for the convolution", measured).
needs_fp16_onednn = pytest.mark.skipif(
    os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in ("SSE41", "AVX"),
    reason="float16 convolutions need oneDNN at AVX2 or above (ONEDNN_MAX_CPU_ISA caps it lower)")
