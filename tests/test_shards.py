"""Feature shards: writing across shard boundaries, memory-mapped reads in any order."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audiolens.shards import FeatureStore, ShardWriter, shard_name


def _write(tmp_path, n=10, shard_size=4, blocks=(3, 1, 4, 2), shape=(5, 7)):
    data = np.arange(n * shape[0] * shape[1], dtype=np.float32).reshape(n, *shape)
    w = ShardWriter(tmp_path, n_rows=n, shape=shape, shard_size=shard_size)
    pos = 0
    for b in blocks:
        w.append(data[pos: pos + b])
        pos += b
    w.close()
    shard, row = w.locations()
    index = pd.DataFrame({"segment_id": [f"s{i}" for i in range(n)], "label": "a",
                          "shard": shard, "row": row, "ref_amplitude": 1.0})
    index.to_csv(tmp_path / "index.csv", index=False)
    (tmp_path / "meta.json").write_text(json.dumps({"shape": list(shape), "class_names": ["a"], "kind": "linear"}))
    return data


def test_shards_split_blocks_and_read_back_memory_mapped(tmp_path):
    data = _write(tmp_path)
    sizes = [np.load(tmp_path / shard_name(i), mmap_mode="r").shape[0] for i in range(3)]
    assert sizes == [4, 4, 2] and not (tmp_path / shard_name(3)).exists()
    assert isinstance(np.load(tmp_path / shard_name(0), mmap_mode="r"), np.memmap)
    store = FeatureStore(tmp_path)
    assert len(store) == 10 and store.shape == (5, 7) and store.class_names == ["a"]
    rows = [9, 0, 5, 4, 4, 3]
    got = store.get(rows)
    assert got.dtype == np.float32 and got.shape == (6, 5, 7)
    assert np.array_equal(got, data[rows])
    got[0] = -1  # a copy: the store is untouched
    assert np.array_equal(store.get([9]), data[[9]])
    seen = np.concatenate([x for _, x in store.batches(batch_size=3)])
    assert np.array_equal(seen, data)
    assert store.get([]).shape == (0, 5, 7)
    with pytest.raises(IndexError):
        store.get([10])


def test_writer_checks_shapes_and_counts(tmp_path):
    w = ShardWriter(tmp_path, n_rows=3, shape=(2, 2), shard_size=2)
    with pytest.raises(ValueError, match="shape"):
        w.append(np.zeros((1, 3, 2)))
    w.append(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="more rows"):
        w.append(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="only 2 of 3"):
        w.close()


def test_missing_feature_folder_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="spectrogram stage"):
        FeatureStore(tmp_path)


def test_a_shard_holding_python_objects_is_refused_not_unpickled(tmp_path):
    from audiolens.errors import DataError

    _write(tmp_path)
    np.save(tmp_path / shard_name(0), np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    store = FeatureStore(tmp_path)
    with pytest.raises(DataError, match=shard_name(0)):
        store.get([0])
    assert store.get([9]).shape == (1, 5, 7)  # the other shards still read


def _fill_rows(args):
    out_dir, start, block, shard_size = args
    from audiolens.shards import write_rows

    write_rows(out_dir, start, block, shard_size=shard_size)
    return len(block)


def test_rows_written_in_place_by_workers_give_the_appended_bytes(tmp_path):
    """allocate() + write_rows from pool workers, blocks in any order and across shard ends == append."""
    from concurrent.futures import ProcessPoolExecutor

    data = _write(tmp_path / "appended")
    w = ShardWriter(tmp_path / "in_place", n_rows=10, shape=(5, 7), shard_size=4)
    w.allocate()
    blocks = [(0, 3), (3, 1), (4, 4), (8, 2)][::-1]  # the last rows first, crossing shard boundaries
    with ProcessPoolExecutor(2) as pool:
        done = list(pool.map(_fill_rows, [(str(w.out_dir), a, data[a:a + k], 4) for a, k in blocks]))
    w.advance(sum(done))
    w.close()
    for i in range(3):
        assert (tmp_path / "in_place" / shard_name(i)).read_bytes() == (tmp_path / "appended" / shard_name(i)).read_bytes()
    assert not (tmp_path / "in_place" / shard_name(3)).exists()


def test_in_place_writer_checks_counts_and_rows(tmp_path):
    from audiolens.shards import write_rows

    w = ShardWriter(tmp_path, n_rows=3, shape=(2, 2), shard_size=2)
    w.allocate()
    with pytest.raises(ValueError, match="past shard"):
        write_rows(tmp_path, 3, np.zeros((1, 2, 2)), shard_size=2)
    with pytest.raises(ValueError, match="do not fit"):
        write_rows(tmp_path, 0, np.zeros((1, 3, 2)), shard_size=2)
    with pytest.raises(ValueError, match="more rows"):
        w.advance(4)
    w.advance(2)
    with pytest.raises(ValueError, match="only 2 of 3"):
        w.close()
