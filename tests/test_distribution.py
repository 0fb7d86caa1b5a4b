"""distribution: TF_CONFIG parsing, who is the chief, per-worker input shards (no TensorFlow cluster)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from _learn_fixtures import make_index, write_features
from audiolens.distribution import is_chief, read_tf_config
from audiolens.errors import ConfigError
from audiolens.tfdata import BatchStream, open_features

CLUSTER = {"worker": ["a:1", "b:2", "c:3"]}


def _env(task: dict, cluster: dict = CLUSTER) -> dict:
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}


def test_chief_is_worker_0_or_the_named_chief():
    assert is_chief({}) and read_tf_config({}) is None
    assert is_chief(_env({"type": "worker", "index": 0}))
    assert not is_chief(_env({"type": "worker", "index": 2}))
    with_chief = {"chief": ["z:9"], **CLUSTER}
    assert is_chief(_env({"type": "chief", "index": 0}, with_chief))
    assert not is_chief(_env({"type": "worker", "index": 0}, with_chief))


@pytest.mark.parametrize("raw", ["not json", json.dumps({"task": {"type": "worker", "index": 0}}),
                                 json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 3}}),
                                 json.dumps({"cluster": CLUSTER, "task": {"type": "ps", "index": 0}})])
def test_a_malformed_tf_config_is_a_config_error_naming_it(raw):
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        read_tf_config({"TF_CONFIG": raw})


def test_multi_worker_without_tf_config_names_the_variable(monkeypatch):
    from audiolens.distribution import resolve_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        resolve_strategy("multi_worker")


@pytest.mark.parametrize("workers,local", [(2, 1), (2, 2), (3, 1)])
def test_worker_shards_of_a_step_make_up_the_global_batch(tmp_path, workers, local):
    idx = make_index()
    store = open_features(write_features(tmp_path, idx))
    n = len(idx) - 5
    pos, labels = np.arange(n), idx["label_index"].to_numpy()[:n]
    replicas = workers * local
    kw = dict(batch_size=4 * replicas, shuffle=True, seed=7, multiple_of=replicas, n_classes=3)
    whole = list(BatchStream(store, pos, labels, **kw)())
    shards = [list(BatchStream(store, pos, labels, shard=(k, workers), **kw)()) for k in range(workers)]
    assert all(len(s) == len(whole) * local == len(BatchStream(store, pos, labels, shard=(0, workers), **kw))
               for s in shards)
    for step, (x, y) in enumerate(whole):
        parts = [shards[k][step * local + j] for k in range(workers) for j in range(local)]
        assert len({len(p[1]) for p in parts}) == 1  # equal per-replica batches
        np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), x)
        np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), y)
    with pytest.raises(ValueError, match="shard"):
        BatchStream(store, pos, labels, shard=(0, 3), **{**kw, "multiple_of": 2, "batch_size": 8})
