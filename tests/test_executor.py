"""The executor backends: same task functions, same ordered results, same output bytes
(pool workers ending with their parent: tests/test_faults.py)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audiolens.errors import ConfigError
from audiolens.parallel import ExecutorSettings, ordered_map
from audiolens.prep.clean import clean_corpus
from audiolens.prep.common import recordings_table
from audiolens.prep.featurize import featurize
from audiolens.segments import SegmentSettings, segment_table
from conftest import clean_settings, spectrogram_settings, write_wav

SR = 8000


def _corpus(root: Path) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(6):
        t = np.arange(int((2.0 + 0.5 * i) * 16000)) / 16000
        y = 0.3 * (np.sin(2 * np.pi * 1.3 * t) > 0) * np.sin(2 * np.pi * (140 + 25 * i) * t)
        y[:8000] = 0
        y = (y + 0.005 * rng.standard_normal(len(t))).astype(np.float32)
        write_wav(root / f"r{i}.wav", y, 16000)
        rows.append({"id": f"r{i}", "path": f"r{i}.wav", "label": "ab"[i % 2], "label_index": i % 2,
                     "speaker": f"s{i}", "group": f"r{i}", "fold": ""})
    (root / "broken.wav").write_bytes(b"RIFF nope")
    rows.append({"id": "broken", "path": "broken.wav", "label": "a", "label_index": 0, "speaker": "s9",
                 "group": "broken", "fold": ""})
    return pd.DataFrame(rows)


def _clean_and_spectrogram(m: pd.DataFrame, root: Path, work: Path, executor: ExecutorSettings) -> dict[str, str]:
    """The clean and spectrogram stages' library calls; sha256 of every file they wrote."""
    log, skipped = clean_corpus(m, root=root, out_dir=work / "clean", settings=clean_settings(sample_rate=SR),
                                min_keep_s=0.1, executor=executor)
    recs = recordings_table(m, ids=log["id"].tolist(), audio_dir=work / "clean", sample_rate=SR)
    segs, _ = segment_table(recs, settings=SegmentSettings(sample_rate=SR, length_s=0.5, hop_s=None, tail="pad",
                                                           min_tail_s=0.0), audio_dir="clean")
    cfg = spectrogram_settings(kind="mel", sample_rate=SR, n_fft=256, hop_length=128, n_mels=32)
    index = featurize(segs, config=cfg, out_dir=work / "features", shard_size=7, root=work, executor=executor,
                      per_task=4)
    log.to_csv(work / "clean_log.csv", index=False)
    skipped.to_csv(work / "skipped.csv", index=False)
    index.to_csv(work / "index.csv", index=False)
    return {str(p.relative_to(work)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(work.rglob("*")) if p.is_file()}


def test_local_pool_and_dask_local_cluster_write_identical_bytes(tmp_path):
    pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    root = tmp_path / "raw"
    m = _corpus(root)
    pool = _clean_and_spectrogram(m, root, tmp_path / "pool", ExecutorSettings(n_jobs=2, scheduler="processes", inline_below_s=0.0))
    dask = _clean_and_spectrogram(m, root, tmp_path / "dask", ExecutorSettings(n_jobs=2, scheduler="local", inline_below_s=0.0))
    assert sum(k.startswith("clean/") for k in pool) == 6 and any(k.startswith("features/shard_") for k in pool)
    assert "broken" in (tmp_path / "pool" / "skipped.csv").read_text()  # the skip travels back from the workers
    assert pool == dask


def _pid_and_square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_a_running_dask_cluster_by_address_keeps_input_order():
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    items = list(range(40))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        out = list(ordered_map(_pid_and_square, items, executor=ExecutorSettings(n_jobs=1, scheduler=address, inline_below_s=0.0),
                               chunksize=3, inflight_per_job=1))
        with distributed.Client(cluster) as client:
            workers = set(client.run(os.getpid).values())
    assert [r[0] for r in out] == [x * x for x in items]
    assert {pid for _, pid in out} <= workers and os.getpid() not in workers


def test_spectrograms_written_in_place_equal_the_ones_sent_back(tmp_path, monkeypatch):
    """Local pool: workers write their rows into the shards (nothing appended here); a cluster by
    address: the rows come back and are appended. Same bytes."""
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    from audiolens.shards import ShardWriter

    appended: list[int] = []
    real = ShardWriter.append
    monkeypatch.setattr(ShardWriter, "append", lambda self, block: appended.append(len(block)) or real(self, block))
    root = tmp_path / "raw"
    m = _corpus(root)
    pool = _clean_and_spectrogram(m, root, tmp_path / "pool", ExecutorSettings(n_jobs=2, scheduler="processes", inline_below_s=0.0))
    assert appended == []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        ex = ExecutorSettings(n_jobs=2, scheduler=cluster.scheduler_address, inline_below_s=0.0)
        sent = _clean_and_spectrogram(m, root, tmp_path / "sent", ex)
    assert sum(appended) > 0
    assert pool == sent and any(k.startswith("features/shard_") for k in pool)


def test_settings_reject_unknown_schedulers_and_bad_counts():
    with pytest.raises(ConfigError, match="audio.scheduler"):
        ExecutorSettings(n_jobs=2, scheduler="threads", inline_below_s=0.0)
    with pytest.raises(ConfigError, match="audio.n_jobs"):
        ExecutorSettings(n_jobs=0, scheduler="processes", inline_below_s=0.0)
    assert ExecutorSettings(n_jobs=1, scheduler="tcp://10.0.0.5:8786", inline_below_s=0.0).uses_dask


def test_an_unaligned_mel_basis_gives_the_same_bytes():
    """Dask may unpickle a task's mel basis into an unaligned buffer; matmul then leaves BLAS."""
    from audiolens.features import spectrogram_db

    cfg = spectrogram_settings(kind="mel", sample_rate=SR, n_fft=256, hop_length=128, n_mels=32)
    basis = cfg.mel_basis().astype(np.float32)
    raw = np.empty(basis.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(raw[1:].data, dtype=basis.dtype).reshape(basis.shape)
    unaligned[...] = basis
    assert not unaligned.flags.aligned
    x = np.random.default_rng(0).standard_normal((5, 4000)).astype(np.float32)
    a, ra = spectrogram_db(x, config=cfg, mel_basis=basis)
    b, rb = spectrogram_db(x, config=cfg, mel_basis=unaligned)
    assert a.tobytes() == b.tobytes() and ra.tobytes() == rb.tobytes()
