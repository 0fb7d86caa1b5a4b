"""Corpus-level preprocessing behind the clean, segment, augment and spectrogram stages.

One module per stage, so each stage's DVC deps name only the code it runs:

- :mod:`audiolens.prep.common`: recording lengths, segmenting input, skipped tables;
- :mod:`audiolens.prep.clean`: :func:`~audiolens.prep.clean.clean_corpus`;
- :mod:`audiolens.prep.augment`: :func:`~audiolens.prep.augment.augment_corpus`;
- :mod:`audiolens.prep.featurize`: :func:`~audiolens.prep.featurize.featurize` (shards),
  ``meta.json`` and PNG export.

Each streams recordings through :func:`audiolens.parallel.ordered_map` (results in input
order, so outputs are byte-identical whatever the backend or ``n_jobs``), writes into a folder the caller
provides (usually from :func:`audiolens.io.atomic_dir`) and returns tables; per-recording
problems become rows of a ``skipped`` table (``id, path, reason, detail``), not exceptions.
"""
