"""Exploratory data analysis: dataset counts, spectra, pitch, image statistics, examples (stage: :mod:`.stage`)."""
