"""``audiolens serve``: one page and a JSON API over the voice gate.

The app never scores anything itself: a :class:`Scorer` (in production
:class:`audiolens.predictor.Predictor`, the code behind ``audiolens predict``) answers, so
the page, the API and the command line give the same numbers. Each request gets a
private temp folder (removed when the request ends, whatever happened); a bounded pool
scores at most ``workers`` recordings at once with ``queue`` more waiting (429 beyond),
each request bounded by ``timeout_s`` (503).
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Protocol

from fastapi import Depends, FastAPI, File, Header, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from audiolens.serve.upload import UploadError, UploadLimits, check_duration, save_upload

__all__ = ["Scorer", "ServeSettings", "create_app", "STEPS"]

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
STEPS = ("received", "read", "clean", "segment", "score", "explain", "done")
MIME = {"png": "image/png", "wav": "audio/wav"}


class Scorer(Protocol):
    """What the app needs from the gate (see :class:`audiolens.predictor.Predictor`)."""

    def score(self, path: Path, *, name: str, progress: Callable[[str], None] | None = None,
              explain_dir: Path | None = None) -> dict: ...

    def document(self, results: list[dict]) -> dict: ...

    def card(self) -> dict: ...


@dataclass(frozen=True, kw_only=True)
class ServeSettings:
    """Limits and binding of the web gate (params ``serve``; see params.yaml for each)."""

    host: str
    port: int
    token: str | None
    max_upload_mb: float
    max_duration_s: float
    record_seconds: float
    workers: int
    queue: int
    timeout_s: float
    explain: bool

    @property
    def limits(self) -> UploadLimits:
        return UploadLimits(max_bytes=int(self.max_upload_mb * 2**20), max_duration_s=self.max_duration_s)


class _Admission:
    """At most ``workers`` running + ``queue`` waiting; :meth:`enter` is non-blocking (False: full)."""

    def __init__(self, workers: int, queue: int):
        self._slots = threading.BoundedSemaphore(workers + queue)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="audiolens-gate")

    def enter(self) -> bool:
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()


def _data_url(path: str | Path) -> str:
    p = Path(path)
    return f"data:{MIME[p.suffix[1:]]};base64," + base64.b64encode(p.read_bytes()).decode("ascii")


def _display_name(filename: str | None) -> str:
    """The client's file name for display only (never used as a path)."""
    name = (filename or "recording").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable())[:120] or "recording"


def create_app(scorer: Scorer, settings: ServeSettings):
    """The FastAPI application (routes: ``/``, ``/static/*``, ``/api/config``, ``/api/model``,
    ``POST /api/predict``)."""
    app = FastAPI(title="audiolens gate", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    admission = _Admission(settings.workers, settings.queue)
    app.state.admission = admission
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def authorised(authorization: str | None = Header(default=None)) -> None:
        if settings.token is None:
            return
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.token.encode()):
            raise HTTPException(401, "missing or wrong token (Authorization: Bearer <serve.token>)")

    @app.exception_handler(UploadError)
    async def _upload_error(_, exc: UploadError):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/config")
    def config():
        return {"record_seconds": settings.record_seconds, "max_duration_s": settings.max_duration_s,
                "max_upload_mb": settings.max_upload_mb, "token_required": settings.token is not None,
                "explain": settings.explain, "steps": list(STEPS)}

    @app.get("/api/model", dependencies=[Depends(authorised)])
    def model_card():
        return scorer.card()

    @app.post("/api/predict", dependencies=[Depends(authorised)])
    async def predict(file: UploadFile = File(...), explain: bool = Query(False),
                      progress: bool = Query(False)):
        explain = explain and settings.explain
        if not admission.enter():
            raise HTTPException(429, f"busy: {settings.workers} recording(s) being scored and {settings.queue} "
                                     "waiting (serve.workers, serve.queue); retry shortly")
        folder = Path(tempfile.mkdtemp(prefix="audiolens-serve-"))
        handed_over = False
        try:
            path, _ = save_upload(file.file, folder, settings.limits)
            check_duration(path, settings.limits)
            loop = asyncio.get_running_loop()
            events: asyncio.Queue = asyncio.Queue()

            def step(name: str) -> None:
                loop.call_soon_threadsafe(events.put_nowait, {"step": name})

            def job() -> dict:
                try:
                    result = scorer.score(path, name=_display_name(file.filename), progress=step,
                                          explain_dir=folder / "explain" if explain else None)
                    if "explain" in result:
                        result["explain"] = {**result["explain"], **{
                            k: _data_url(v) for k, v in result["explain"].items() if k in ("gradcam_png", "masked_in_wav")}}
                    return scorer.document([result])
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
                    admission.leave()

            events.put_nowait({"step": "received"})
            future = asyncio.wrap_future(admission.pool.submit(job))
            handed_over = True
            if progress:
                return StreamingResponse(_stream(future, events, settings.timeout_s),
                                         media_type="application/x-ndjson")
            try:
                doc = await asyncio.wait_for(asyncio.shield(future), settings.timeout_s)
            except asyncio.TimeoutError:
                raise HTTPException(503, f"scoring took longer than {settings.timeout_s:g} s (serve.timeout_s)")
            return _respond(doc)
        finally:
            if not handed_over:
                shutil.rmtree(folder, ignore_errors=True)
                admission.leave()

    return app


def _status(doc: dict) -> tuple[int, str | None]:
    """HTTP status of a scored document: unreadable audio (exit 3) is 422; silence / too short
    are answers (200, the page shows them as an abstention with the reason)."""
    err = doc["results"][0].get("error")
    if err and err["code"] == 3:
        return 422, err["message"]
    return 200, None


def _respond(doc: dict):
    status, message = _status(doc)
    return JSONResponse(doc if status == 200 else {"detail": message, **doc}, status_code=status)


async def _stream(future, events: asyncio.Queue, timeout_s: float):
    """NDJSON: ``{"step": ...}`` lines while scoring, then ``{"status": 200, "document": ...}``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not future.done():
        try:
            event = await asyncio.wait_for(events.get(), max(0.01, min(0.25, deadline - loop.time())))
            yield json.dumps(event) + "\n"
        except asyncio.TimeoutError:
            if loop.time() >= deadline:
                yield json.dumps({"status": 503, "detail": f"scoring took longer than {timeout_s:g} s"}) + "\n"
                return
    while not events.empty():
        yield json.dumps(events.get_nowait()) + "\n"
    try:
        doc = future.result()
    except Exception as exc:  # noqa: BLE001 - reported to the client, logged here
        log.exception("scoring failed")
        yield json.dumps({"status": 500, "detail": f"scoring failed: {type(exc).__name__}"}) + "\n"
        return
    status, message = _status(doc)
    yield json.dumps({"status": status, "detail": message, "document": doc}) + "\n"


def settings_dict(settings: ServeSettings) -> dict:
    """The settings without the token (for logs)."""
    return {k: v for k, v in asdict(settings).items() if k != "token"} | {"token": settings.token is not None}
