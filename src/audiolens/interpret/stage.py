"""What the ``interpret`` stage does, as one function over a settings object.

Reads dB spectrograms through :class:`audiolens.shards.FeatureStore`, picks the splits from
``split.csv`` and bounds every costly part by a count from params, so the stage stays fast on
the demo corpus. The ``paramspace`` stage is :mod:`audiolens.interpret.paramspace_stage`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from tqdm import tqdm

from audiolens.bootstrap import BootstrapSettings, bootstrap_ci
from audiolens.interpret import figures
from audiolens.interpret.cam import CamNotApplicable, cam, grad_cam, normalise_maps
from audiolens.interpret.internals import feature_maps, filter_summaries
from audiolens.interpret.retrieval import (cosine_topk, embeddings, precision_at_k,
                                           precision_table, project_2d)
from audiolens.interpret.selection import pick_per_class, split_positions_for, subsample
from audiolens.io import SKIPPED_COLUMNS, atomic_write_csv, atomic_write_json, slug
from audiolens.plots import save_figure

__all__ = ["InterpretSettings", "run"]

LOG = logging.getLogger("audiolens.interpret")


@dataclass(frozen=True, kw_only=True)
class InterpretSettings:
    """Bounds of the model-internals analysis (built from the ``interpret`` params section).

    Attributes
    ----------
    examples_per_class : int
        Test segments per class for feature-map and CAM figures.
    queries_per_class : int
        Gallery rows per class.
    top_k : int
        Neighbours per query (precision@k).
    max_index, max_queries : int
        Train segments embedded as the retrieval index; test segments used as queries.
    include_augmented : bool
        Also index augmented train segments.
    tsne : bool
        Also a t-SNE projection (PCA always).
    max_filters : int
        Kernels drawn per conv layer.
    max_channels : int
        Most active channels shown per conv block.
    cam_layer : str or None
        Grad-CAM layer (None: the last 4-D conv feature layer).
    batch_size : int
        Inference batch (examples).
    seed : int
        Seed of every sample drawn.
    bootstrap : BootstrapSettings or None
        95 % interval of precision@k over the queries' recordings (None: none).
    """

    examples_per_class: int
    queries_per_class: int
    top_k: int
    max_index: int
    max_queries: int
    include_augmented: bool
    tsne: bool
    max_filters: int
    max_channels: int
    cam_layer: str | None
    batch_size: int
    seed: int
    bootstrap: BootstrapSettings | None


def run(*, model: keras.Model, store, split_df: pd.DataFrame, out_dir: str | Path,
        settings: InterpretSettings) -> dict:
    """Filters, feature maps, retrieval (+ metric), projection and CAM/Grad-CAM into ``out_dir``.

    Returns the summary (also written as ``summary.json``); ``retrieval.json`` holds
    precision@k.
    """
    out, s = Path(out_dir), settings
    t0 = time.perf_counter()
    timings, skipped = {}, []
    names = list(store.class_names)
    ids = store.index["segment_id"].to_numpy(dtype=str)
    labels = store.index["label_index"].to_numpy(dtype=np.int64)
    train, test = split_positions_for(store, split_df, include_augmented=s.include_augmented)

    # 1. filters
    summaries = filter_summaries(model)
    for i, fs in enumerate(tqdm(summaries, desc="filter figures", unit="layer")):
        save_figure(figures.filters_figure(fs, max_filters=s.max_filters),
                    out / "filters" / f"{i:02d}_{slug(fs.layer)}.png")
    timings["filters_s"] = time.perf_counter() - t0

    # examples per class from the test split (feature maps and CAM)
    chosen, missing = pick_per_class(labels, test, per_class=s.examples_per_class,
                                     n_classes=len(names), seed=s.seed)
    for c in missing:
        skipped.append({"id": names[c], "path": "", "reason": "no test examples",
                        "detail": "class shown in no feature-map / CAM figure"})
    ex_pos = np.concatenate(list(chosen.values())) if chosen else np.zeros(0, np.int64)
    x_ex = store.get(ex_pos)
    probs = np.asarray(model.predict(x_ex[..., None], batch_size=s.batch_size, verbose=0))
    pred = probs.argmax(axis=1)

    # 2. feature maps
    t = time.perf_counter()
    fmaps = feature_maps(model, x_ex, batch_size=s.batch_size)
    for j, pos in enumerate(tqdm(ex_pos, desc="feature-map figures", unit="example")):
        title = f"{ids[pos]}  true {names[labels[pos]]}, pred {names[pred[j]]} ({probs[j].max():.2f})"
        fig = figures.feature_maps_figure(x_ex[j], {k: v[j] for k, v in fmaps.items()}, title=title,
                                          max_channels=s.max_channels)
        save_figure(fig, out / "feature_maps" / f"{slug(names[labels[pos]])}__{slug(ids[pos])}.png")
    timings["feature_maps_s"] = time.perf_counter() - t

    # 3. embeddings, retrieval, precision@k, projection
    t = time.perf_counter()
    index = subsample(train, s.max_index, seed=s.seed)
    queries = subsample(test, s.max_queries, seed=s.seed + 1)
    k = min(s.top_k, len(index))
    # streamed from the memory-mapped shards, one batch of spectrograms at a time
    e_index = embeddings(model, store.rows(index), batch_size=s.batch_size)
    e_query = embeddings(model, store.rows(queries), batch_size=s.batch_size)
    rows, sims = cosine_topk(e_query, e_index, k=k)
    prec = precision_at_k(labels[queries], labels[index], rows)
    table, summary = precision_table(labels[queries], prec, names)
    rec = store.index.get("recording_id", store.index["segment_id"]).to_numpy(dtype=str)
    ci = bootstrap_ci(np.mean, prec, groups=rec[queries], settings=s.bootstrap)
    metric = {"k": k, "n_index": int(len(index)), **summary, "n_recordings": ci["n_recordings"],
              **({"ci95": {"precision_at_k": ci["ci95"]}} if "ci95" in ci else {})}
    atomic_write_json(out / "retrieval.json", metric)
    atomic_write_csv(out / "retrieval_precision.csv", table)
    atomic_write_csv(out / "retrieval.csv", pd.DataFrame({
        "query_id": np.repeat(ids[queries], k), "query_label": np.repeat(np.array(names)[labels[queries]], k),
        "rank": np.tile(np.arange(1, k + 1), len(queries)), "neighbour_id": ids[index][rows].ravel(),
        "neighbour_label": np.array(names)[labels[index][rows]].ravel(), "similarity": sims.ravel()}))
    gal, _ = pick_per_class(labels, queries, per_class=s.queries_per_class, n_classes=len(names), seed=s.seed)
    gq = np.concatenate(list(gal.values()))
    qi = np.searchsorted(queries, gq)
    nb = index[rows[qi]]
    fig = figures.retrieval_gallery(
        store.get(gq), [f"query {names[labels[p]]}" for p in gq],
        store.get(nb.ravel()).reshape(*nb.shape, *store.shape), sims[qi],
        [[names[labels[p]] for p in r] for r in nb], [names[labels[p]] for p in gq])
    save_figure(fig, out / "retrieval_gallery.png")
    both = np.vstack([e_index, e_query])
    split_tag = np.array(["train"] * len(index) + ["test"] * len(queries))
    lab_both = np.concatenate([labels[index], labels[queries]])
    proj = {"pca": project_2d(both, method="pca", seed=s.seed)}
    if s.tsne:
        proj["tsne"] = project_2d(both, method="tsne", seed=s.seed)
    for method, pts in proj.items():
        save_figure(figures.projection_figure(pts, lab_both, names, split_tag, method=method),
                    out / f"projection_{method}.png")
    atomic_write_csv(out / "projection.csv", pd.DataFrame({
        "segment_id": np.concatenate([ids[index], ids[queries]]), "split": split_tag,
        "label": np.array(names)[lab_both],
        **{f"{m}_{a}": p[:, a] for m, p in proj.items() for a in (0, 1)}}))
    timings["retrieval_s"] = time.perf_counter() - t

    # 4. CAM / Grad-CAM (explaining the predicted class)
    t = time.perf_counter()
    maps = {"Grad-CAM": normalise_maps(grad_cam(model, x_ex, class_index=pred, layer=s.cam_layer,
                                                batch_size=s.batch_size)),
            "Grad-CAM signed": normalise_maps(grad_cam(model, x_ex, class_index=pred, layer=s.cam_layer,
                                                       signed=True, batch_size=s.batch_size), signed=True)}
    cam_note = "available"
    try:
        maps = {"CAM": normalise_maps(cam(model, x_ex, class_index=pred, batch_size=s.batch_size)), **maps}
    except CamNotApplicable as exc:
        cam_note = f"not applicable: {exc}"
        LOG.info("CAM skipped (%s); Grad-CAM shown", exc)
    start = 0
    for c, pos in chosen.items():
        sl = slice(start, start + len(pos))
        start += len(pos)
        titles = [f"{ids[p][-28:]}\ntrue {names[c]} / pred {names[pred[j]]} {probs[j].max():.2f}"
                  for j, p in zip(range(sl.start, sl.stop), pos)]
        fig = figures.cam_figure(x_ex[sl], {m: v[sl] for m, v in maps.items()}, titles,
                                 title=f"class {names[c]}: class activation maps for the predicted class")
        save_figure(fig, out / "cam" / f"{slug(names[c])}.png")
    np.savez_compressed(out / "cam" / "maps.npz", segment_id=ids[ex_pos], predicted=pred,
                        **{slug(m): v for m, v in maps.items()})
    timings["cam_s"] = time.perf_counter() - t

    atomic_write_csv(out / "skipped.csv", pd.DataFrame(skipped, columns=SKIPPED_COLUMNS))
    result = {"n_conv_layers": len(summaries), "n_examples": int(len(ex_pos)),
              "feature_map_layers": list(fmaps), "n_index": int(len(index)),
              "n_queries": int(len(queries)), "precision_at_k": metric["precision_at_k"], "k": k,
              "cam": cam_note, "cam_methods": list(maps), "n_skipped": len(skipped),
              "timings_s": {**{k2: round(v, 3) for k2, v in timings.items()},
                            "total_s": round(time.perf_counter() - t0, 3)}}
    atomic_write_json(out / "summary.json", {k2: v for k2, v in result.items() if k2 != "timings_s"})
    return result
