"""Filters and feature maps, read through the model contract."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from audiolens.interpret.cam import grad_cam
from audiolens.interpret.internals import (block_layers, feature_maps, filter_summaries,
                                           spatial_kernel, top_channels)
from audiolens.interpret.retrieval import embeddings
from audiolens.models.introspect import conv_layers
from _learn_fixtures import build_test_model
from audiolens.models.registry import ARCHS


def contract_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16, 12, 1), name="spectrogram")
    x = keras.layers.Rescaling(0.05, name="normalise")(inp)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.SeparableConv2D(5, 3, padding="same", name="sep3")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(4, activation="relu", name="embedding")(x)
    x = keras.layers.Dense(2, name="logits")(x)
    return keras.Model(inp, keras.layers.Activation("softmax", name="probs")(x))


def test_filter_summaries():
    model = contract_model()
    fs = filter_summaries(model)
    assert [f.layer for f in fs] == ["conv1", "conv2", "sep3"]
    first = fs[0]
    assert first.kind == "direct" and first.images.shape == (4, 3, 3)
    np.testing.assert_allclose(first.images[2], model.get_layer("conv1").kernel.numpy()[:, :, 0, 2])
    conv2 = fs[1]
    k = model.get_layer("conv2").kernel.numpy()
    assert conv2.kind == "energy" and conv2.images.shape == (6, 3, 3)
    np.testing.assert_allclose(conv2.images[1, 0, 2], np.linalg.norm(k[0, 2, :, 1]), rtol=1e-5)
    assert conv2.channel_norms.shape == (4, 6)
    np.testing.assert_allclose(conv2.channel_norms[3, 5], np.linalg.norm(k[:, :, 3, 5]), rtol=1e-5)
    assert spatial_kernel(model.get_layer("sep3")).shape == (3, 3, 6, 1)


def test_block_layers_are_block_ends():
    model = contract_model()
    # grids: conv1 16x12 | pool1, conv2, bn2, relu2 8x6 | pool2, sep3 4x3
    assert [layer.name for layer in block_layers(model)] == ["conv1", "relu2", "sep3"]


def test_feature_maps_match_direct_computation():
    model = contract_model()
    x = np.random.default_rng(0).normal(-40, 6, (3, 16, 12)).astype(np.float32)
    maps = feature_maps(model, x)
    assert list(maps) == ["conv1", "relu2", "sep3"]
    assert maps["conv1"].shape == (3, 16, 12, 4) and maps["relu2"].shape == (3, 8, 6, 6)
    direct = keras.Model(model.inputs[0], model.get_layer("relu2").output)(x[..., None]).numpy()
    np.testing.assert_allclose(maps["relu2"], direct, rtol=1e-5, atol=1e-6)
    assert (maps["relu2"] >= 0).all()


def test_top_channels_orders_by_mean_activation():
    f = np.zeros((2, 2, 4), np.float32)
    f[..., 2] = 3.0
    f[..., 0] = 1.0
    f[0, 0, 3] = 2.0
    assert list(top_channels(f, 3)) == [2, 0, 3]


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_registered_arch_is_readable(arch):
    """Filters, feature maps, embeddings and Grad-CAM through the contract only."""
    model = build_test_model(arch=arch, input_shape=(32, 40, 1), n_classes=3, width=0.25, dense_units=8)
    x = np.random.default_rng(0).uniform(-80, 0, (2, 32, 40)).astype(np.float32)
    assert len(filter_summaries(model)) == len(conv_layers(model))
    maps = feature_maps(model, x)
    assert len(maps) >= 2 and all(m.ndim == 4 and len(m) == 2 for m in maps.values())
    # blocks go from fine to coarse grids
    areas = [m.shape[1] * m.shape[2] for m in maps.values()]
    assert areas == sorted(areas, reverse=True)
    g = grad_cam(model, x, signed=True)
    assert g.shape == (2, 32, 40) and np.isfinite(g).all()
    assert embeddings(model, x).shape == (2, 8)
