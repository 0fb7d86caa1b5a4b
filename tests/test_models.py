"""Model zoo: every architecture satisfies the model contract for linear and mel shapes."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from audiolens.models.blocks import HEAD_DROPOUT
from audiolens.models.introspect import embedding_layer, last_conv_layer, logits_model
from audiolens.models.layers import DatasetStandardize, PerSampleStandardize
from _learn_fixtures import build_test_model
from audiolens.models.registry import ARCHS, build_model, load_model

SHAPES = {"linear": (129, 40, 1), "mel": (64, 40, 1)}


def _batch(shape, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-80, 0, size=(n, *shape)).astype("float32"), np.arange(n) % 3


@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("arch", list(ARCHS))
def test_arch_contract_and_one_train_step(arch, kind):
    shape = SHAPES[kind]
    keras.utils.set_random_seed(0)
    m = build_test_model(arch=arch, input_shape=shape, n_classes=3, width=0.25, dense_units=16, dropout=0.3)
    assert m.input_shape == (None, *shape)
    # contract: embedding -> head_dropout -> logits (linear Dense) -> probs (softmax)
    emb = embedding_layer(m)
    drop, logits, probs = m.get_layer(HEAD_DROPOUT), m.get_layer("logits"), m.get_layer("probs")
    assert isinstance(drop, keras.layers.Dropout) and drop.rate == pytest.approx(0.3)
    assert drop.input is emb.output and logits.input is drop.output and probs.input is logits.output
    assert isinstance(logits, keras.layers.Dense) and logits.activation is keras.activations.linear
    assert emb.output.shape[-1] == 16 and m.output_shape == (None, 3)
    assert len(last_conv_layer(m).output.shape) == 4
    x, y = _batch(shape)
    p = np.asarray(m(x))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    z = np.asarray(logits_model(m)(x))
    np.testing.assert_allclose(np.exp(z) / np.exp(z).sum(1, keepdims=True), p, rtol=1e-4, atol=1e-6)
    # one optimisation step changes the weights and gives a finite loss
    # eager: tracing EfficientNet's graph costs ~1 min on a busy CPU, one eager step ~3 s
    m.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="sparse_categorical_crossentropy",
              run_eagerly=True)
    before = [w.copy() for w in m.get_layer("logits").get_weights()]
    loss = m.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert any(not np.allclose(a, b) for a, b in zip(before, m.get_layer("logits").get_weights()))


def test_default_seed_cnn_is_demo_sized():
    from audiolens.config.learn import ModelParams
    from audiolens.config.settings import to_settings
    from audiolens.models.settings import ModelSettings

    m = build_model(to_settings(ModelParams(), ModelSettings), input_shape=(129, 126, 1), n_classes=2,
                    normalise="per_sample", stats=None)
    assert 100_000 < m.count_params() < 250_000
    widths = [l.filters for l in m.layers if isinstance(l, keras.layers.Conv2D)]
    assert widths == [16, 32, 64, 128]


@pytest.mark.parametrize("pool,dim", [("gap", 32), ("time", 8 * 32), ("flatten", 8 * 3 * 32)])
def test_pooling_options(pool, dim):
    m = build_test_model(arch="compact_cnn", input_shape=(128, 40, 1), n_classes=2, width=0.25, pool=pool)
    assert m.get_layer("embedding").input.shape[-1] == dim  # F'=128/16, T'=ceil(40/16), C=32
    from audiolens.models.settings import ModelSettings

    bad = ModelSettings(arch="compact_cnn", width=0.25, dense_units=8, dropout=0.3, conv_dropout=0.0,
                        weights=None, pool="max", freeze_blocks=0)
    with pytest.raises(ValueError, match="pool: unknown value 'max'"):
        build_model(bad, input_shape=(128, 40, 1), n_classes=2, normalise="per_sample", stats=None)


@pytest.mark.parametrize("normalise", ["per_sample", "dataset", "none"])
def test_save_load_round_trip(tmp_path, normalise):
    stats = {"mean": np.linspace(-60, -20, 64).tolist(), "std": np.linspace(5, 15, 64).tolist()}
    m = build_test_model(arch="compact_cnn", input_shape=SHAPES["mel"], n_classes=3, normalise=normalise,
                    stats=stats if normalise == "dataset" else None)
    assert (m.layers[1].name == "normalise") == (normalise != "none")
    path = tmp_path / "m.keras"
    m.save(path)
    again = load_model(path)
    x, _ = _batch(SHAPES["mel"])
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(m(x)), rtol=1e-5, atol=1e-6)


def test_normalisation_layers_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.uniform(-80, 0, size=(3, 8, 5, 1)).astype("float32")
    z = np.asarray(PerSampleStandardize()(x))
    np.testing.assert_allclose(z.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(1, 2, 3)), 1, atol=1e-3)
    mean, std = rng.uniform(-50, -10, 8), rng.uniform(1, 10, 8)
    d = np.asarray(DatasetStandardize(mean, std, eps=0.0)(x))
    np.testing.assert_allclose(d, (x - mean[None, :, None, None]) / std[None, :, None, None], rtol=1e-5)
    with pytest.raises(ValueError, match="stats for 8 frequency bins, input has 9"):
        DatasetStandardize(mean, std)(np.zeros((1, 9, 5, 1), "float32"))
    with pytest.raises(ValueError, match="needs stats"):
        build_test_model(arch="seed_cnn", input_shape=(8, 8, 1), n_classes=2, normalise="dataset")


def test_bad_arguments_are_named():
    from audiolens.errors import ParameterError
    from audiolens.models.settings import ModelSettings

    vgg = ModelSettings(arch="vgg", width=0.5, dense_units=8, dropout=0.3, conv_dropout=0.0, weights=None,
                        pool="gap", freeze_blocks=0)
    with pytest.raises(ParameterError, match="unknown architecture 'vgg'"):
        build_model(vgg, input_shape=(64, 40, 1), n_classes=2, normalise="per_sample", stats=None)
    with pytest.raises(ValueError, match=r"input_shape must be \(F, T, 1\)"):
        build_test_model(arch="seed_cnn", input_shape=(64, 40, 3), n_classes=2)
    with pytest.raises(ValueError, match="only supported for efficientnet_b0 and musicnn_vgg"):
        build_test_model(arch="seed_cnn", input_shape=(64, 40, 1), n_classes=2, weights="w.h5")
    with pytest.raises(ValueError, match="would download"):
        build_test_model(arch="efficientnet_b0", input_shape=(64, 40, 1), n_classes=2, weights="imagenet")
    with pytest.raises(FileNotFoundError, match="nope.weights.h5"):
        build_test_model(arch="efficientnet_b0", input_shape=(64, 40, 1), n_classes=2, weights="nope.weights.h5")
    with pytest.raises(ValueError, match=">= 32"):
        build_test_model(arch="efficientnet_b0", input_shape=(64, 20, 1), n_classes=2)
    with pytest.raises(ParameterError, match="no conv_dropout"):
        build_test_model(arch="efficientnet_b0", input_shape=(64, 40, 1), n_classes=2, conv_dropout=0.2)


def test_efficientnet_loads_local_backbone_weights(tmp_path):
    keras.utils.set_random_seed(1)
    a = build_test_model(arch="efficientnet_b0", input_shape=(32, 32, 1), n_classes=2)
    backbone = a.get_layer("efficientnetb0")
    path = tmp_path / "backbone.weights.h5"
    backbone.save_weights(path)
    keras.utils.set_random_seed(2)
    b = build_test_model(arch="efficientnet_b0", input_shape=(32, 32, 1), n_classes=2, weights=str(path))
    c = build_test_model(arch="efficientnet_b0", input_shape=(32, 32, 1), n_classes=2)
    wa, wb, wc = (m.get_layer("efficientnetb0").get_weights() for m in (a, b, c))
    assert all(np.array_equal(u, v) for u, v in zip(wa, wb))
    assert not all(np.array_equal(u, v) for u, v in zip(wa, wc))


def test_saved_model_bytes_depend_only_on_the_model(tmp_path, monkeypatch):
    """Same architecture and weights, built and saved at another time: the same bytes."""
    import datetime as dt
    import hashlib
    import zipfile

    from audiolens.models.registry import save_model

    def build():
        keras.utils.set_random_seed(0)
        return build_test_model(arch="seed_cnn", input_shape=(32, 24, 1), n_classes=2, width=0.25)

    model = build()
    a = save_model(model, tmp_path / "a.keras")
    keep = [model]  # alive, so the rebuilt model's objects sit at other addresses

    class Later(dt.datetime):  # Keras stamps datetime.now() into metadata.json
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2031, 5, 6, 7, 8, 9)

    monkeypatch.setattr(dt, "datetime", Later)
    b = save_model(build(), tmp_path / "b.keras")
    assert keep
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.keras", "b.keras"]  # no leftovers
    with zipfile.ZipFile(a) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    reloaded = load_model(a)
    x = np.random.default_rng(0).uniform(-80, 0, (2, 32, 24, 1)).astype(np.float32)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_small_cnn_logits_decompose_exactly_over_the_last_feature_map():
    """CAM on small_cnn is exact: logit_c = mean over (f, t) of (A[f, t] . w_c) + b_c."""
    from audiolens.errors import ParameterError
    from audiolens.models.introspect import submodel

    keras.utils.set_random_seed(0)
    m = build_test_model(arch="small_cnn", input_shape=SHAPES["mel"], n_classes=3, width=0.25, dense_units=8)
    last = last_conv_layer(m)
    assert last.name == "cam_relu"
    x, _ = _batch(SHAPES["mel"])
    a, z = (np.asarray(v) for v in submodel(m, last.name, "logits")(x))
    w, b = m.get_layer("logits").get_weights()
    cam = np.einsum("nftc,ck->nftk", a, w)
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + b, z, rtol=1e-4, atol=1e-5)
    from audiolens.models.settings import ModelSettings

    bad = ModelSettings(arch="small_cnn", width=0.25, dense_units=8, dropout=0.3, conv_dropout=0.0,
                        weights=None, pool="flatten", freeze_blocks=0)
    with pytest.raises(ParameterError, match="pool='flatten'"):
        build_model(bad, input_shape=SHAPES["mel"], n_classes=3, normalise="per_sample", stats=None)


def test_small_cnn_time_pool_keeps_frequency_and_cam_is_exact():
    """pool: time -> embedding (F' * D,); logit_c = sum_f mean_t (A[f, t] . w_{c,f}) + b_c, and cam() averages to it."""
    from audiolens.interpret.cam import cam_head
    from audiolens.models.introspect import submodel

    keras.utils.set_random_seed(0)
    m = build_test_model(arch="small_cnn", input_shape=SHAPES["mel"], n_classes=3, width=0.25, dense_units=8,
                         pool="time")
    assert tuple(embedding_layer(m).output.shape) == (None, 4 * 8)  # F' = 64 / 16 rows x D = 8
    x, _ = _batch(SHAPES["mel"])
    a, z = (np.asarray(v, np.float64) for v in submodel(m, "cam_relu", "logits")(x))
    w, b = m.get_layer("logits").get_weights()
    maps = np.einsum("nftd,fdc->nftc", a, w.reshape(4, 8, 3))  # weight differs per frequency row f
    np.testing.assert_allclose(maps.mean(axis=2).sum(axis=1) + b, z, rtol=1e-4, atol=1e-5)
    # a frequency-blind decomposition (one weight per channel) would not reproduce the logits
    assert not np.allclose(np.einsum("nftd,dc->nftc", a, w.reshape(4, 8, 3).mean(0)).mean(axis=(1, 2)) * 4 + b,
                           z, atol=1e-3)
    layer, weights = cam_head(m)
    assert layer.name == "cam_relu" and weights.shape == (4, 8, 3)
    grid = np.einsum("nftd,fdc->nftc", a, weights)
    np.testing.assert_allclose(grid.mean(axis=(1, 2)) + b, z, rtol=1e-4, atol=1e-5)
