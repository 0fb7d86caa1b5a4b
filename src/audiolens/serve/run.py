"""The ``audiolens serve`` command: settings from params ``serve``, a safe binding, uvicorn."""
from __future__ import annotations

import ipaddress
import logging
import os
import socket

from audiolens.errors import ConfigError
from audiolens.serve.app import ServeSettings, create_app, settings_dict

__all__ = ["serve_settings", "check_binding", "run"]

log = logging.getLogger(__name__)


def serve_settings(section, **overrides) -> ServeSettings:
    """:class:`ServeSettings` from a validated ``serve`` params section; ``overrides`` that are
    not None win (command-line flags)."""
    from audiolens.config import to_settings

    s = to_settings(section, ServeSettings)
    given = {k: v for k, v in overrides.items() if v is not None}
    return ServeSettings(**{**s.__dict__, **given})


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that resolve only to loopback (``localhost``)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            addrs = {a[4][0] for a in socket.getaddrinfo(host, None)}
        except socket.gaierror:
            return False
        return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def check_binding(settings: ServeSettings, *, insecure: bool) -> None:
    """Refuse a non-loopback binding without a token unless ``insecure``.

    Raises
    ------
    ConfigError
        Naming ``serve.host`` and ``serve.token``.
    """
    if not is_loopback(settings.host) and settings.token is None and not insecure:
        raise ConfigError(f"serve.host {settings.host!r} is reachable from other machines: set serve.token "
                          "(or --token / AUDIOLENS_TOKEN), or pass --insecure to serve it to anyone who reaches it")


def run(args, predictor) -> int:
    """Start the server (blocks until interrupted); returns the exit status."""
    import uvicorn

    from audiolens.config import load_params

    section = load_params(args.params).serve  # a ConfigError: one line, exit 2 (audiolens.cli.main)
    settings = serve_settings(section, host=args.host, port=args.port,
                              token=args.token or os.environ.get("AUDIOLENS_TOKEN"))
    check_binding(settings, insecure=args.insecure)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.info("serving %s on http://%s:%d (%s)", args.model, settings.host, settings.port, settings_dict(settings))
    uvicorn.run(create_app(predictor, settings), host=settings.host, port=settings.port, log_level="info",
                timeout_graceful_shutdown=5)
    return 0
