"""``audiolens serve``: the voice gate as one web page and a JSON API.

- :mod:`~audiolens.serve.app`: the FastAPI app (routes, bounded pool, temp folders);
- :mod:`~audiolens.serve.upload`: checks on an upload (sniffed type, size, duration);
- :mod:`~audiolens.serve.run`: the command (settings, safe binding, uvicorn);
- ``static/``: the page (no CDN: every script and style is served by the app).
"""
