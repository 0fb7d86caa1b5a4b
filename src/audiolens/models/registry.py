"""Architecture registry: ``model.arch`` name -> builder, plus saving/loading helpers.

Every builder returns a functional model satisfying :mod:`audiolens.models.introspect`'s
contract, so nothing downstream branches on the architecture name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import keras

from audiolens.errors import ModelError, ParameterError
from audiolens.models.settings import ModelSettings
from audiolens.models import compact_cnn, efficientnet_b0, musicnn_vgg, resnet_small, seed_cnn, small_cnn
from audiolens.models import layers as _layers  # noqa: F401  (registers custom layers)

__all__ = ["ARCHS", "ModelSettings", "build_model", "load_model", "save_model"]

ARCHS: dict[str, Callable[..., keras.Model]] = {
    "seed_cnn": seed_cnn.build,
    "compact_cnn": compact_cnn.build,
    "resnet_small": resnet_small.build,
    "efficientnet_b0": efficientnet_b0.build,
    "small_cnn": small_cnn.build,
    "musicnn_vgg": musicnn_vgg.build,
}


def build_model(settings: ModelSettings, *, input_shape: tuple[int, int, int], n_classes: int,
                normalise: str, stats: dict | None) -> keras.Model:
    """Build an (uncompiled) model.

    Parameters
    ----------
    settings : ModelSettings
    input_shape : (F, T, 1)
        dB spectrogram shape.
    n_classes : int
    normalise : {"none", "per_sample", "dataset"}
    stats : dict or None
        Train-split per-frequency ``mean``/``std`` (dB) for ``normalise="dataset"``.
    """
    s = settings
    if s.arch not in ARCHS:
        raise ParameterError(f"arch: unknown architecture {s.arch!r} (allowed: {', '.join(ARCHS)})")
    kw = dict(input_shape=tuple(input_shape), n_classes=int(n_classes), width=s.width,
              dense_units=s.dense_units, dropout=s.dropout, conv_dropout=s.conv_dropout, pool=s.pool,
              normalise=normalise, stats=stats)
    if s.arch == "efficientnet_b0":
        return efficientnet_b0.build(**kw, weights=s.weights)
    if s.arch == "musicnn_vgg":
        return musicnn_vgg.build(**kw, weights=s.weights, freeze_blocks=s.freeze_blocks)
    if s.weights is not None:
        raise ParameterError(f"weights is only supported for efficientnet_b0 and musicnn_vgg, not {s.arch!r}")
    return ARCHS[s.arch](**kw)


def save_model(model: keras.Model, path: str | Path) -> Path:
    """Save ``model`` as a ``.keras`` zip whose bytes depend only on the model.

    Keras stamps the save time into ``metadata.json`` (``date_saved``) and into the weights
    entry's zip timestamp, and writes Python object addresses as ``shared_object_id`` in
    ``config.json``; the first two are set to fixed values and the ids renumbered in order
    of appearance (same sharing), so the same weights give the same file (and DVC hash).
    """
    import json
    import zipfile

    path = Path(path)
    raw = path.with_name(path.name + ".unnormalised.keras")
    model.save(raw)
    try:
        with zipfile.ZipFile(raw) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "metadata.json":
                    meta = json.loads(data)
                    meta["date_saved"] = "1980-01-01@00:00:00"
                    data = json.dumps(meta).encode()
                elif info.filename == "config.json":
                    data = json.dumps(_renumber_shared_ids(json.loads(data), {})).encode()
                fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                fixed.compress_type, fixed.external_attr = info.compress_type, info.external_attr
                dst.writestr(fixed, data)
    finally:
        raw.unlink(missing_ok=True)
    return path


def _renumber_shared_ids(node, ids: dict):
    """``node`` with every ``shared_object_id`` replaced by its order of first appearance."""
    if isinstance(node, dict):
        return {k: (ids.setdefault(v, len(ids)) if k == "shared_object_id" else _renumber_shared_ids(v, ids))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_renumber_shared_ids(v, ids) for v in node]
    return node


def load_model(path: str | Path) -> keras.Model:
    """Load a saved ``.keras`` model (custom normalisation layers registered), uncompiled.

    Loading is explicitly in Keras's safe mode: a model holding Python code (a ``Lambda``
    layer's pickled bytecode) is refused, never run. On CPU, XLA is switched off for
    ``predict`` (XLA compiles slowly and runs these small CNNs ~3x slower there).

    Raises
    ------
    ModelError
        Naming the file: missing, a directory or other non-regular file, not a ``.keras``
        zip archive, refused by safe mode, or any other load failure.
    """
    import zipfile

    import tensorflow as tf

    from audiolens.io import file_problem

    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise ModelError(f"model {path}: {problem}")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"model {path}: not a .keras model (a .keras file is a zip archive)")
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises ValueError, KeyError, OSError, ... for a bad archive
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            raise ModelError(f"model {path}: refused: it holds Python code (a Lambda layer), which "
                             f"safe-mode loading never runs") from None
        raise ModelError(f"model {path}: cannot load: {text}") from None
    if not tf.config.list_physical_devices("GPU"):
        model.jit_compile = False
    return model
