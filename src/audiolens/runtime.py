"""Helpers every stage script shares: logging, params loading, timing, seeding."""
from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import logging
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from audiolens.config import Params, load_params
from audiolens.errors import AudiolensError
from audiolens.io import remove_stale_temps

__all__ = ["stage_main", "start_stage", "timed", "seed_everything", "apply_numerics", "Terminated",
           "declared_outputs"]


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM, so ``finally`` blocks (the atomic writers'
    temp clean-up, worker pools' shutdown) run; the exit status is 128 + 15 = 143."""



def stage_main(main: Callable[[], None]) -> Callable[[], None]:
    """Decorate a stage script's ``main``: any :class:`~audiolens.errors.AudiolensError` it raises
    ends the process with one line ``[<script>] <message>`` on stderr and exit code 2.

    Stage scripts never catch and re-raise by hand: a bad input (config, data, model) is an
    ``AudiolensError`` from the library or the config layer; anything else is a bug and keeps
    its traceback.

    Faults: SIGTERM becomes :class:`Terminated` (exit 143) so the atomic writers remove
    their temp files and directories; before ``main`` runs, temps left beside the stage's
    declared outputs by a killed earlier run (SIGKILL) are removed (:func:`declared_outputs`,
    :func:`audiolens.io.remove_stale_temps`).
    """
    name = Path(inspect.getfile(main)).stem

    @functools.wraps(main)
    def run() -> None:
        previous = signal.signal(signal.SIGTERM, functools.partial(_terminate, name))
        try:
            for out in declared_outputs(name):
                for gone in remove_stale_temps(out):
                    print(f"[{name}] removed a stale temp left by a killed run: {gone}", file=sys.stderr)
            with _one_line_errors(name):
                main()
        finally:
            signal.signal(signal.SIGTERM, previous)

    return run


def _terminate(name: str, signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the clean-up
    print(f"[{name}] terminated (SIGTERM): removing temporary outputs", file=sys.stderr)
    raise Terminated(128 + signum)


def declared_outputs(stage: str, dvc_yaml: str | Path = "dvc.yaml") -> list[Path]:
    """Output paths ``dvc_yaml`` declares for ``stage`` (and its ``foreach`` instances).

    Templated parts (``${item}``) are expanded against the paths that exist. Empty when
    there is no ``dvc.yaml`` here or it has no such stage.
    """
    import glob
    import re

    import yaml

    try:
        stages = (yaml.safe_load(Path(dvc_yaml).read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError):
        return []
    spec = stages.get(stage) or {}
    spec = spec.get("do", spec) if isinstance(spec, dict) else {}
    paths: list[Path] = []
    for out in spec.get("outs") or []:
        out = next(iter(out)) if isinstance(out, dict) else str(out)
        if "${" in out:
            paths += [Path(p) for p in sorted(glob.glob(re.sub(r"\$\{[^}]*\}", "*", out)))]
        else:
            paths.append(Path(out))
    return paths


@contextlib.contextmanager
def _one_line_errors(name: str) -> Iterator[None]:
    """An :class:`AudiolensError` in the block -> ``[name] message`` on stderr, exit code 2."""
    try:
        yield
    except AudiolensError as exc:
        print(f"[{name}] {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def start_stage(name: str, argv: list[str] | None = None, *,
                tensorflow: bool = False) -> tuple[Params, logging.Logger]:
    """Parse ``--params``, validate the whole params file and set up logging.

    A config error ends the process with exit code 2 and the message, before any work
    (also in a script whose ``main`` is not decorated with :func:`stage_main`).
    Stages that run TensorFlow pass ``tensorflow=True``: the ``numerics`` settings are
    applied before their first op (:func:`apply_numerics`).

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
    with _one_line_errors(name):
        params = load_params(args.params)
    _reexec_with_numpy_cap(name, params.numerics.cpu_isa, log)
    if tensorflow:
        apply_numerics(deterministic=params.numerics.deterministic, cpu_isa=params.numerics.cpu_isa, log=log)
    return params, log


def apply_numerics(*, deterministic: bool, cpu_isa: str | None, log: logging.Logger | None = None) -> None:
    """Make TensorFlow's CPU results independent of the machine, as far as the stack allows.

    Parameters
    ----------
    deterministic : bool
        Turn on TF op determinism (``tf.config.experimental.enable_op_determinism``).
    cpu_isa : str or None
        Cap oneDNN's instruction set (``ONEDNN_MAX_CPU_ISA``, read by oneDNN at its first
        kernel, so this must run before any TF op). oneDNN picks kernels by CPU: on an
        AVX-512 machine the same training gives other weights than on an AVX2 one; capped,
        both run the AVX2 kernels. The thread count does not change oneDNN's results
        (measured). An ``ONEDNN_MAX_CPU_ISA`` already set in the environment wins.
    """
    log = log or logging.getLogger("audiolens.runtime")
    preset = os.environ.get("ONEDNN_MAX_CPU_ISA")
    if preset and cpu_isa and preset.upper() != cpu_isa.upper():
        log.warning("ONEDNN_MAX_CPU_ISA=%s from the environment overrides numerics.cpu_isa=%s", preset, cpu_isa)
    elif cpu_isa and not preset:
        os.environ["ONEDNN_MAX_CPU_ISA"] = cpu_isa
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


# rank of an instruction-set level: oneDNN names (numerics.cpu_isa) and numpy's dispatch targets
_ISA_RANK = {"SSE41": 1, "AVX": 2, "AVX2": 3, "AVX2_VNNI": 3, "AVX512_CORE": 4, "AVX512_CORE_VNNI": 4,
             "AVX512_CORE_BF16": 4, "AVX512_CORE_AMX": 4}


def _numpy_target_rank(target: str) -> int:
    """Rank of a numpy SIMD dispatch target (``X86_V3`` = AVX2 level, ``X86_V4``/``AVX512*`` above)."""
    t = target.upper()
    if t.startswith("AVX512") or t == "X86_V4":
        return 4
    if t in ("X86_V3", "AVX2", "FMA3", "F16C"):
        return 3
    if t == "AVX":
        return 2
    return 1


def numpy_features_to_disable(cpu_isa: str | None, dispatch: list[str]) -> list[str]:
    """The numpy dispatch targets above ``cpu_isa`` (for ``NPY_DISABLE_CPU_FEATURES``).

    numpy picks SIMD kernels for ``exp``, ``sin``, ``log``... by CPU at run time, so an AVX-512
    machine computes them differently (last bits) from an AVX2 one, and a time stretch or a
    spectrogram changes (measured: the demo's augment and spectrogram outputs differ between
    an AVX-512 Xeon and an AVX2 EPYC, and agree byte for byte once numpy is capped at AVX2).

    Parameters
    ----------
    cpu_isa : str or None
        ``numerics.cpu_isa`` (None: no cap).
    dispatch : list of str
        numpy's dispatch targets available on this machine (``__cpu_dispatch__``).
    """
    if cpu_isa is None:
        return []
    cap = _ISA_RANK[cpu_isa.upper()]
    return [t for t in dispatch if _numpy_target_rank(t) > cap]


def _reexec_with_numpy_cap(name: str, cpu_isa: str | None, log: logging.Logger) -> None:
    """Run a stage script again with numpy's SIMD capped at ``cpu_isa`` when this CPU exceeds it.

    ``NPY_DISABLE_CPU_FEATURES`` is read when numpy is imported, so a stage process that already
    imported numpy is replaced (``os.execv``) by one started with it (and ``ONEDNN_MAX_CPU_ISA``)
    in its environment. Only for a stage script run as the main program (``stages/<name>.py``),
    never inside another process (tests); only on CPUs above the cap; a value already in the
    environment wins.
    """
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main or Path(main).stem != name or Path(main).parent.name != "stages":
        return
    started_as = {Path(a).resolve() for a in sys.orig_argv[1:] if a.endswith(".py")}
    if Path(main).resolve() not in started_as:  # run inside another program (runpy in a test): never replace it
        return
    if "NPY_DISABLE_CPU_FEATURES" in os.environ:
        return
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    drop = [t for t in numpy_features_to_disable(cpu_isa, list(__cpu_dispatch__)) if __cpu_features__.get(t)]
    if not drop:
        return
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(drop)}
    if cpu_isa and "ONEDNN_MAX_CPU_ISA" not in env:
        env["ONEDNN_MAX_CPU_ISA"] = cpu_isa
    log.info("this CPU has %s: restarting with numpy capped at numerics.cpu_isa=%s", ", ".join(drop), cpu_isa)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


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
