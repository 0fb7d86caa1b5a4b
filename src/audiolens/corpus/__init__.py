"""Corpora: the synthetic demo corpus, data layouts and ingest (manifest building)."""
