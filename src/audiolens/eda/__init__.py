"""Exploratory data analysis: dataset counts, spectra, pitch, image statistics, examples."""
