"""Architecture-agnostic access to a model's parts (the model contract).

Every model ``audiolens.models`` builds is a functional Keras model with:

- input: a dB spectrogram of shape ``(F, T, 1)``; normalisation lives inside the model;
- a layer named ``"embedding"`` (the penultimate representation, shape ``(D,)``);
- a linear ``Dense`` layer named ``"logits"`` followed by ``Activation("softmax", name="probs")``;
- the head is a plain chain ``embedding -> head_dropout (Dropout) -> logits -> probs``;
- at least one ``Conv2D`` layer; the last one is found by :func:`last_conv_layer`.

Analysis code (uncertainty, interpretability, attribution) asks the model through
these functions and never branches on the architecture name.
"""
from __future__ import annotations

import keras

__all__ = ["EMBEDDING", "HEAD_DROPOUT", "LOGITS", "PROBS", "embedding_layer", "last_conv_layer", "conv_layers",
           "logits_model", "submodel"]

EMBEDDING = "embedding"
HEAD_DROPOUT = "head_dropout"
LOGITS = "logits"
PROBS = "probs"


def conv_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """All ``Conv2D``-like layers (incl. depthwise/separable) in topological order."""
    kinds = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
    out = []

    def walk(m):
        for layer in m.layers:
            if isinstance(layer, kinds):
                out.append(layer)
            elif isinstance(layer, keras.Model):
                walk(layer)
    walk(model)
    return out


def last_conv_layer(model: keras.Model) -> keras.layers.Layer:
    """The last top-level layer with a 4-D output ``(batch, h, w, c)`` after the first convolution.

    This is the feature map Grad-CAM and CAM use (post-activation/pooling of the last
    conv block). A nested backbone (``keras.Model`` used as a layer) counts as a conv.
    """
    kinds = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D, keras.Model)
    layers = model.layers
    first = next((i for i, l in enumerate(layers) if isinstance(l, kinds)), None)
    if first is None:
        raise ValueError(f"model {model.name!r} has no convolution layer")
    for layer in reversed(layers[first:]):
        if len(layer.output.shape) == 4:
            return layer
    raise ValueError(f"model {model.name!r} has no 4-D convolutional feature layer")


def embedding_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer named ``"embedding"``."""
    try:
        return model.get_layer(EMBEDDING)
    except ValueError:
        raise ValueError(f"model {model.name!r} has no layer named {EMBEDDING!r}") from None


def submodel(model: keras.Model, *outputs: str) -> keras.Model:
    """A functional model from the input to the named layers' outputs."""
    return keras.Model(model.inputs, [model.get_layer(n).output for n in outputs])


def logits_model(model: keras.Model) -> keras.Model:
    """Input → pre-softmax logits (for gradients that do not saturate)."""
    return submodel(model, LOGITS)
