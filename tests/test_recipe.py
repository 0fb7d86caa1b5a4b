"""The small-data training recipe: each augmentation, the LR schedule and early stopping do what they say."""
from __future__ import annotations

import numpy as np
import pytest

from _learn_fixtures import make_index, train_settings, write_features
from audiolens.errors import ParameterError
from audiolens.tfdata import (BatchAugment, BatchStream, mixup, open_features, random_gain, random_shift,
                              spec_augment)
from audiolens.training import learning_rate_schedule, smoothed_early_stopping


def _x(n=5, f=12, t=20, seed=0):
    return np.random.default_rng(seed).uniform(-80, 0, size=(n, f, t)).astype(np.float32)


def test_spec_augment_masks_exactly_the_drawn_bands():
    x = _x()
    out = spec_augment(x.copy(), np.random.default_rng(7), freq_masks=2, time_masks=1, max_freq=0.25, max_time=0.2)
    rng = np.random.default_rng(7)  # replay the draws: width then start, per band, per sample
    for i in range(len(x)):
        mask = np.zeros(x.shape[1:], bool)
        for axis, count, frac in ((0, 2, 0.25), (1, 1, 0.2)):
            size = x.shape[1 + axis]
            for _ in range(count):
                w = int(rng.integers(0, max(1, int(frac * size)) + 1))
                s = int(rng.integers(0, size - w + 1))
                if axis == 0:
                    mask[s:s + w, :] = True
                else:
                    mask[:, s:s + w] = True
        np.testing.assert_array_equal(out[i][~mask], x[i][~mask])
        np.testing.assert_allclose(out[i][mask], x[i].mean(), rtol=1e-6)


def test_random_shift_keeps_frames_inside_the_recording():
    x = _x(n=40)
    out = random_shift(x.copy(), np.random.default_rng(3), max_frames=6)
    shifts = np.random.default_rng(3).integers(-6, 7, size=40)
    assert len(set(shifts.tolist())) > 3
    t = x.shape[2]
    for i, s in enumerate(shifts):
        src = np.arange(t) - s  # output frame j shows input frame j - s
        inside = (src >= 0) & (src < t)
        np.testing.assert_array_equal(out[i][:, inside], x[i][:, src[inside]])
        np.testing.assert_array_equal(out[i][:, ~inside], x[i].min())  # silence, never wrapped frames
        assert (~inside).sum() == abs(s)


def test_random_gain_offsets_each_sample_by_the_drawn_db():
    x = _x()
    out = random_gain(x.copy(), np.random.default_rng(2), gain_db=6.0)
    g = np.random.default_rng(2).uniform(-6, 6, size=(5, 1, 1))
    np.testing.assert_allclose(out - x, np.broadcast_to(g, x.shape), atol=1e-4)
    assert np.abs(g).max() <= 6.0


def test_mixup_mixes_labels_with_the_drawn_weights():
    x, y = _x(n=8), np.eye(3, dtype=np.float32)[np.arange(8) % 3]
    w = np.linspace(0.5, 1.5, 8).astype(np.float32)
    xm, ym, wm, lam, perm = mixup(x, y, np.random.default_rng(4), alpha=0.4, weights=w)
    rng = np.random.default_rng(4)
    np.testing.assert_allclose(lam, rng.beta(0.4, 0.4, size=8), rtol=1e-6)
    np.testing.assert_array_equal(perm, rng.permutation(8))
    np.testing.assert_allclose(ym, lam[:, None] * y + (1 - lam[:, None]) * y[perm], rtol=1e-6)
    np.testing.assert_allclose(xm, lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm], rtol=1e-5)
    np.testing.assert_allclose(wm, lam * w + (1 - lam) * w[perm], rtol=1e-6)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)


def test_augmented_stream_is_reproducible_per_seed_and_epoch(tmp_path):
    idx = make_index(n_classes=3, recordings_per_class=2, segments_per_recording=2, augmented_per_recording=0)
    store = open_features(write_features(tmp_path, idx, shape=(16, 12)))
    aug = BatchAugment(gain_db=3.0, shift_frames=2, specaugment=True, freq_masks=1, time_masks=1,
                       max_freq=0.2, max_time=0.2, mixup_alpha=0.3)
    y = idx["label_index"].to_numpy()

    def epochs(seed):
        s = BatchStream(store, np.arange(len(idx)), y, batch_size=4, shuffle=True, seed=seed, augment=aug,
                        n_classes=3)
        return [np.concatenate([b[0].ravel() for b in s()]) for _ in range(2)]

    a, b, c = epochs(1), epochs(1), epochs(2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[0], c[0])
    with pytest.raises(ParameterError, match="one-hot"):
        BatchStream(store, np.arange(len(idx)), y, batch_size=4, shuffle=True, augment=aug)


def test_warmup_cosine_learning_rates():
    sched = learning_rate_schedule(learning_rate=0.01, warmup_steps=10, total_steps=110)
    lr = {s: float(sched(s)) for s in (0, 5, 10, 60, 110)}
    assert lr[0] == pytest.approx(0.0, abs=1e-9)
    assert lr[5] == pytest.approx(0.005, rel=1e-5)  # linear warmup
    assert lr[10] == pytest.approx(0.01, rel=1e-5)  # peak
    assert lr[60] == pytest.approx(0.005, rel=1e-4)  # half way down the cosine
    assert lr[110] == pytest.approx(0.0, abs=1e-7)
    no_warmup = learning_rate_schedule(learning_rate=0.01, warmup_steps=0, total_steps=100)
    assert float(no_warmup(0)) == pytest.approx(0.01) and float(no_warmup(50)) == pytest.approx(0.005, rel=1e-4)
    with pytest.raises(ParameterError, match="total_steps"):
        learning_rate_schedule(learning_rate=0.01, warmup_steps=10, total_steps=10)


class _FakeModel:
    def __init__(self):
        self.epoch, self.stop_training, self.restored = 0, False, None

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, w):
        self.restored = int(w[0])


def _run(cb, values):
    model = _FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    for e, v in enumerate(values):
        model.epoch = e + 1
        cb.on_epoch_end(e, {"val_loss": v, "val_accuracy": v})
        if model.stop_training:
            break
    cb.on_train_end()
    return model, e + 1


def test_early_stopping_respects_min_epochs_and_restores_the_best():
    worse = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    model, ran = _run(smoothed_early_stopping(monitor="val_loss", smoothing=0.0, patience=1, min_epochs=5), worse)
    assert ran == 5 and model.restored == 1  # would have stopped at epoch 2 without min_epochs
    model, ran = _run(smoothed_early_stopping(monitor="val_loss", smoothing=0.0, patience=1, min_epochs=1), worse)
    assert ran == 2


def test_early_stopping_follows_the_smoothed_metric():
    acc = [0.5, 0.8, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9]  # one lucky epoch, then a steady rise
    cb = smoothed_early_stopping(monitor="val_accuracy", smoothing=0.5, patience=3, min_epochs=1)
    model, ran = _run(cb, acc)
    expect = [acc[0]]
    for v in acc[1:]:
        expect.append(0.5 * expect[-1] + 0.5 * v)
    np.testing.assert_allclose(cb.smoothed, expect)
    assert ran == 8 and cb.best_epoch == 8 == model.restored
    raw, ran_raw = _run(smoothed_early_stopping(monitor="val_accuracy", smoothing=0.0, patience=3, min_epochs=1),
                        acc)
    assert ran_raw == 5 and raw.restored == 2  # the raw curve stops in the lucky epoch's shadow


def test_train_settings_are_checked():
    with pytest.raises(ParameterError, match="min_epochs .* must be <= epochs"):
        train_settings(epochs=3).__class__(**{**train_settings(epochs=3).__dict__, "min_epochs": 4})
    with pytest.raises(ParameterError, match="warmup_epochs"):
        train_settings(epochs=3).__class__(**{**train_settings(epochs=3).__dict__, "lr_schedule": "cosine",
                                              "warmup_epochs": 3})
