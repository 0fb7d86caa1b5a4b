"""audiolens: build, trust and explain a spectrogram CNN from a folder of recordings."""

__version__ = "0.1.0"
