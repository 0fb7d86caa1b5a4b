"""One training process for tests/test_multi_worker.py (not a test module).

``python _multi_worker_train.py FEATURES OUT DISTRIBUTE BATCH_PER_REPLICA``: trains the tiny
no-BatchNorm, no-dropout ``seed_cnn`` on every row of FEATURES for 2 epochs (no validation
split, no augmentation), the way the train stage does (numerics applied first), and
writes ``OUT/weights/epoch_NNN.weights.h5``. With DISTRIBUTE ``multi_worker`` the cluster
comes from ``TF_CONFIG``.
"""
import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the CPU test: no GPU in the collectives

from audiolens.runtime import apply_numerics  # noqa: E402

if __name__ == "__main__":
    features, out, distribute, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    apply_numerics(deterministic=True, cpu_isa="AVX2")
    import pandas as pd

    from _learn_fixtures import train_test_model

    index = pd.read_csv(os.path.join(features, "index.csv"))
    split = pd.DataFrame({"segment_id": index["segment_id"], "split": "train"})
    _, meta = train_test_model(features_dir=features, split=split, out_dir=out, distribute=distribute,
                               batch_size=batch, epochs=2, min_epochs=2, lr_schedule="plateau", seed=5,
                               width=0.25, dense_units=16, dropout=0.0, conv_dropout=0.0, augmented_weight=0.5,
                               class_weight="balanced", save_epochs=True)
    print("replicas", meta["replicas"], "epochs", meta["epochs_run"], flush=True)
