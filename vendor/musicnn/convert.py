"""Write ``mtt_vgg.npz`` (the ``pretrained_vgg`` trunk's weights) from musicnn's MTT_vgg checkpoint.

musicnn 0.1.0 (ISC licence, Music Technology Group, Universitat Pompeu Fabra; code by Jordi
Pons) ships TensorFlow 1 checkpoints of a 5-block VGG trained on MagnaTagATune (music
tagging, 50 tags) on 96-band log-mel spectrograms (16 kHz, n_fft 512, hop 256). Its input is
``(time, frequency)``; the project's spectrograms are ``(frequency, time)``, so every 3x3
kernel is transposed here and nothing else changes. Get the checkpoint without installing
musicnn (its wheel pins numpy < 1.17)::

    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn
    unzip -q /tmp/musicnn/musicnn-0.1.0-py3-none-any.whl 'musicnn/MTT_vgg/*' -d /tmp/musicnn
    python vendor/musicnn/convert.py /tmp/musicnn/musicnn/MTT_vgg vendor/musicnn/mtt_vgg.npz

Keys: ``input_bn/{gamma,beta,moving_mean,moving_variance}`` (shape (1,)), and for block
``i`` in 1..5 ``block{i}_conv/{kernel,bias}`` (kernel ``(3, 3, C_in, 128)`` over
(frequency, time)) and ``block{i}_bn/{gamma,beta,moving_mean,moving_variance}`` (128,).
The output is deterministic (sorted keys, no timestamps in ``np.savez``'s members).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from audiolens.models.musicnn_vgg import read_weights

BN = ("gamma", "beta", "moving_mean", "moving_variance")


def convert(checkpoint: Path) -> dict[str, np.ndarray]:
    """Arrays of the trunk, keyed as the module docstring says, from a musicnn VGG checkpoint folder."""
    import tensorflow as tf

    get = tf.compat.v1.train.NewCheckpointReader(str(checkpoint) + "/").get_tensor
    out = {f"input_bn/{k}": get(f"batch_normalization/{k}") for k in BN}
    for i in range(1, 6):
        out[f"block{i}_conv/kernel"] = np.ascontiguousarray(np.swapaxes(get(f"{i}CNN/kernel"), 0, 1))
        out[f"block{i}_conv/bias"] = get(f"{i}CNN/bias")
        out.update({f"block{i}_bn/{k}": get(f"batch_normalization_{i}/{k}") for k in BN})
    return {k: np.asarray(v, dtype=np.float32) for k, v in sorted(out.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path, help="musicnn/MTT_vgg folder (its .index/.data files)")
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    arrays = convert(args.checkpoint)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    read_weights(tmp)  # the keys and shapes the architecture reads (raises ParameterError otherwise)
    tmp.replace(args.out)
    print(f"{args.out}: {len(arrays)} arrays, {sum(a.size for a in arrays.values())} values")


if __name__ == "__main__":
    main()
