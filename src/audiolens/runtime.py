"""Helpers every stage script shares: logging, params loading, timing, seeding."""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import sys
import time
from typing import Iterator

import numpy as np

from audiolens.config import ConfigError, Params, load_params

__all__ = ["start_stage", "timed", "seed_everything"]


def start_stage(name: str, argv: list[str] | None = None) -> tuple[Params, logging.Logger]:
    """Parse ``--params``, validate the whole params file and set up logging.

    A config error ends the process with exit code 2 and the message, before any work.

    Returns
    -------
    params : Params
    log : logging.Logger
        Logger named ``audiolens.<name>`` writing to stderr.
    """
    parser = argparse.ArgumentParser(prog=f"stages/{name}.py")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("AUDIOLENS_LOG", "INFO"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    log = logging.getLogger(f"audiolens.{name}")
    try:
        params = load_params(args.params)
    except ConfigError as exc:
        print(f"[{name}] {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return params, log


@contextlib.contextmanager
def timed(log: logging.Logger, what: str) -> Iterator[None]:
    """Log how long the block took (seconds)."""
    t0 = time.perf_counter()
    yield
    log.info("%s took %.2f s", what, time.perf_counter() - t0)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if imported) TensorFlow/Keras."""
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras
        keras.utils.set_random_seed(seed)
