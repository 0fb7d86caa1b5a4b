"""Parameter-space drift and layer-reset robustness on tiny contract models."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from audiolens.interpret.paramspace import (bn_layers, drift_table, epoch_weight_files,
                                            fresh_weights, recompute_bn_stats, reset_robustness,
                                            snapshot, spread, weight_history,
                                            weight_layers)

F, T = 12, 12


def bn_model(seed: int = 0, *, nested: bool = False) -> keras.Model:
    """[nested conv-BN backbone -> spatial dropout ->] conv -> BN -> relu -> GAP -> embedding
    -> head_dropout -> logits -> probs."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((F, T, 1), name="spectrogram")
    x = keras.layers.Rescaling(1 / 20.0, offset=2.0, name="normalise")(inp)
    if nested:
        b_in = keras.Input((F, T, 1))
        h = keras.layers.Conv2D(6, 3, padding="same", name="bconv")(b_in)
        h = keras.layers.BatchNormalization(name="bbn")(h)
        x = keras.Model(b_in, keras.layers.ReLU()(h), name="backbone")(x)
        x = keras.layers.SpatialDropout2D(0.5, name="feat_dropout")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(8, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(0.3, name="head_dropout")(x)
    x = keras.layers.Dense(3, name="logits")(x)
    return keras.Model(inp, keras.layers.Activation("softmax", name="probs")(x))


def data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(-40.0, 5.0, size=(n, F, T)).astype(np.float32)
    for c in range(3):
        x[y == c, 4 * c:4 * c + 4, :] += 20.0
    return x, y


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """Train 6 epochs saving initial and per-epoch weights like the train stage does."""
    wdir = tmp_path_factory.mktemp("weights")
    model = bn_model(1)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.save_weights(wdir / "initial.weights.h5")
    save = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: model.save_weights(wdir / f"epoch_{e + 1:03d}.weights.h5"))
    x, y = data(60)
    model.fit(x[..., None], y, epochs=6, batch_size=10, verbose=0, shuffle=False, callbacks=[save])
    return model, wdir


def test_relative_change_is_zero_at_epoch_zero_and_grows(trained_run):
    model, wdir = trained_run
    files = epoch_weight_files(wdir)
    assert [e for e, _ in files] == list(range(7))
    before = snapshot(model)
    hist = weight_history(model, files)
    after = snapshot(model)
    assert all(np.array_equal(before[k], after[k]) for k in before), "model weights not restored"
    table = drift_table(model, hist)
    assert set(table["layer"]) == {"conv1", "bn1", "embedding", "logits"}
    e0 = table[table.epoch == 0]
    assert (e0["change"] == 0).all() and (e0["relative_change"] == 0).all()
    last = table[table.epoch == 6].set_index("layer")
    assert (last["relative_change"] > 0).all()
    # matches a direct computation for the conv layer (kernel + bias)
    conv = model.get_layer("conv1")
    w0 = np.concatenate([hist[0][v.path].ravel() for v in conv.weights])
    w3 = np.concatenate([hist[6][v.path].ravel() for v in conv.weights])
    np.testing.assert_allclose(last.loc["conv1", "relative_change"],
                               np.linalg.norm(w3 - w0) / np.linalg.norm(w0), rtol=1e-5)
    # BN statistics are tracked separately and moved with training
    assert last.loc["bn1", "stats_change"] > 0 and np.isnan(last.loc["conv1", "stats_change"])
    assert last.loc["bn1", "n_params"] == 16  # gamma + beta, not the moving statistics


def test_missing_initial_weights_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="initial.weights.h5"):
        epoch_weight_files(tmp_path)


@pytest.mark.parametrize("bn_stats", ["keep", "reset", "recompute"])
def test_reset_of_untrained_model_to_initial_changes_nothing(bn_stats):
    model = bn_model(2)
    x, y = data(30, seed=5)
    initial = snapshot(model)
    table, ref = reset_robustness(model, x, y, critical_drop=0.05, initial=initial, bn_stats=bn_stats, x_stats=x)
    assert list(table["layer"]) == ["conv1", "bn1", "embedding", "logits"]
    assert (table["acc_initial"] == ref["accuracy"]).all()
    assert (table["loss_initial"] == ref["loss"]).all()
    assert (table["status_initial"] == "robust").all()
    # a fresh random conv/dense layer is a different network
    rnd = table.set_index("layer")
    assert all(rnd.loc[n, "loss_random"] != ref["loss"] for n in ("conv1", "embedding", "logits"))
    after = snapshot(model)
    assert all(np.array_equal(initial[k], after[k]) for k in initial)


def test_reset_trained_model_marks_critical_layers(trained_run):
    model, wdir = trained_run
    x, y = data(45, seed=9)
    hist = weight_history(model, epoch_weight_files(wdir))
    table, ref = reset_robustness(model, x, y, initial=hist[0], bn_stats="recompute", x_stats=x,
                                  critical_drop=0.1)
    assert ref["accuracy"] > 0.9
    status = table.set_index("layer")
    # resetting the classifier to its initial weights destroys the class mapping
    assert status.loc["logits", "status_initial"] == "critical"
    assert np.isclose(status.loc["logits", "drop_initial"],
                      ref["accuracy"] - status.loc["logits", "acc_initial"])


def test_recompute_bn_stats_matches_batch_statistics():
    model = bn_model(3)
    x, _ = data(20)
    recompute_bn_stats(model, x)
    bn = model.get_layer("bn1")
    feats = keras.Model(model.inputs[0], bn.input)(x[..., None]).numpy()
    np.testing.assert_allclose(bn.moving_mean.numpy(), feats.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), feats.var(axis=(0, 1, 2)), rtol=1e-4)
    assert bn.momentum == 0.99 and bn.trainable  # settings restored


def test_recompute_is_sequentially_exact_with_nested_bn_and_dropout():
    """Each BN's stats equal its inference-mode input statistics given the re-estimated
    earlier BNs; dropout before a BN does not leak into the estimate."""
    model = bn_model(4, nested=True)
    names = [layer.name for layer in weight_layers(model)]
    assert names[:2] == ["bconv", "bbn"] and [b.name for b in bn_layers(model)] == ["bbn", "bn1"]
    backbone = model.get_layer("backbone")
    backbone.trainable = False  # a frozen backbone is re-estimated too
    x, _ = data(16)
    recompute_bn_stats(model, x)
    bbn = backbone.get_layer("bbn")
    assert not np.allclose(bbn.moving_variance.numpy(), 1.0) and not bbn.trainable
    bn1 = model.get_layer("bn1")
    feats = keras.Model(model.inputs[0], bn1.input)(x[..., None], training=False).numpy()
    np.testing.assert_allclose(bn1.moving_mean.numpy(), feats.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn1.moving_variance.numpy(), feats.var(axis=(0, 1, 2)), rtol=1e-3)
    # deterministic despite the model's dropout layer (switched off while estimating)
    first = bn1.moving_mean.numpy().copy()
    recompute_bn_stats(model, x)
    np.testing.assert_array_equal(first, bn1.moving_mean.numpy())
    assert model.get_layer("head_dropout").rate == 0.3 and model.get_layer("feat_dropout").rate == 0.5


def test_spread_keeps_first_and_last():
    assert spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert spread([1, 2], 5) == [1, 2] and spread([1, 2, 3], None) == [1, 2, 3]


def test_fresh_weights_are_seeded_and_new():
    model = bn_model(5)
    conv = model.get_layer("conv1")
    a, b = fresh_weights(conv, seed=1), fresh_weights(conv, seed=1)
    c = fresh_weights(conv, seed=2)
    k = conv.kernel.path
    assert np.array_equal(a[k], b[k]) and not np.array_equal(a[k], c[k])
    assert not np.allclose(a[k], conv.kernel.numpy())
    assert a[k].std() > 0


@pytest.mark.parametrize("arch", ["compact_cnn", "resnet_small", "efficientnet_b0"])
def test_reset_to_initial_changes_nothing_for_registered_archs(arch):
    from _learn_fixtures import build_test_model

    model = build_test_model(arch=arch, input_shape=(32, 32, 1), n_classes=3, width=0.25, dense_units=8)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-80, 0, (6, 32, 32)).astype(np.float32), np.arange(6) % 3
    table, ref = reset_robustness(model, x, y, critical_drop=0.05, initial=snapshot(model), bn_stats="recompute",
                                  x_stats=x, max_layers=4)
    assert len(table) == 4 and table["layer"].iloc[-1] == "logits"
    assert (table["loss_initial"] == ref["loss"]).all()
    assert not table["status_random"].str.startswith("n/a").any()


def test_drop_interval_is_exact_binomial_on_the_discordant_examples():
    from scipy.stats import beta

    from audiolens.interpret.paramspace import drop_interval, drop_status

    ref = np.ones(46, bool)
    ref[:2] = False                                   # 44 / 46 right
    assert drop_interval(ref, ref) == (0.0, 0.0)      # no prediction changed
    new = ref.copy()
    new[2:5] = False                                  # 3 more mistakes: drop 3/46 = 0.065 > 0.05
    lo, hi = drop_interval(ref, new)
    # b = 3 of m = 3 discordant: pi in [Beta(0.025; 3, 1), 1] -> drop in [(2 pi_lo - 1) 3/46, 3/46]
    assert lo == pytest.approx((2 * beta.ppf(0.025, 3, 1) - 1) * 3 / 46)
    assert hi == pytest.approx(3 / 46)
    assert lo < 0.05 < hi and drop_status(lo, hi, 0.05) == "inconclusive"   # 2 vs 5 mistakes: can't tell
    bad = ref.copy()
    bad[2:30] = False                                 # 28 more mistakes
    lo, hi = drop_interval(ref, bad)
    assert lo > 0.05 and drop_status(lo, hi, 0.05) == "critical"
    assert drop_status(*drop_interval(ref, ref), 0.05) == "robust"
    better = ~ref | ref                               # fixes the 2 mistakes: a negative drop
    lo, hi = drop_interval(ref, better)
    assert lo == pytest.approx(-2 / 46) and hi < 0.05 and drop_status(lo, hi, 0.05) == "robust"


def test_restored_epoch_finds_the_matching_snapshot():
    from audiolens.interpret.paramspace import restored_epoch

    hist = {0: {"w": np.zeros(3)}, 1: {"w": np.ones(3)}, 2: {"w": np.full(3, 2.0)}}
    assert restored_epoch(hist, {"w": np.ones(3)}) == 1
    assert restored_epoch(hist, {"w": np.full(3, 5.0)}) is None
