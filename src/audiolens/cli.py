"""``audiolens predict FILE...`` (the voice gate on files) and ``audiolens serve`` (in a browser).

Exit status of ``predict``: 0 all files scored; 2 usage or configuration error (one line on
stderr, no file is scored); 3 unreadable, corrupt or wrong-format input; 4 silent / pure noise
(nothing left after cleaning); 5 too short. With several files every file still gets its
answer and the run's status is the first of 3, 4, 5 that any file got
(:data:`audiolens.inference.EXIT_PRECEDENCE`), 0 when all were scored; ``--json`` gives each
file's ``status``. Both commands score through :class:`audiolens.predictor.Predictor`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from audiolens.errors import AudiolensError, ConfigError

__all__ = ["main", "build_parser", "gate_files"]


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _gate_arguments(p: argparse.ArgumentParser) -> None:
    """Where the gate's parts live (shared by ``predict`` and ``serve``)."""
    p.add_argument("--model", type=Path, default=Path("models/model.keras"),
                   help="trained model (its folder holds resolved_params.yaml); default models/model.keras")
    p.add_argument("--config", type=Path, default=None,
                   help="resolved config the model was trained with (default: <model dir>/resolved_params.yaml)")
    p.add_argument("--gate", type=Path, default=None,
                   help="abstention settings from the uncertainty stage (method, score, threshold); default "
                        "reports/uncertainty/abstain.json when it exists, else the model's own settings")
    p.add_argument("--method", choices=["single", "mc_dropout", "ensemble"], default=None,
                   help="override the uncertainty method of --gate")
    p.add_argument("--threshold", type=float, default=None, help="override the abstention threshold")
    p.add_argument("--operating-point", type=Path, default=None,
                   help="binary accept threshold picked by the evaluate stage (accept when P(positive) >= it); "
                        "default reports/eval/threshold.json when it exists")
    p.add_argument("--accept-threshold", type=float, default=None,
                   help="override the binary accept threshold of --operating-point")
    p.add_argument("--eval-metrics", type=Path, default=None,
                   help="test metrics shown in the model card (default reports/eval/metrics.json when it exists)")
    p.add_argument("--min-seconds", type=float, default=0.25, help="minimum sound after cleaning (s)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="audiolens", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("predict", help="accept / reject / abstain on new recordings")
    p.add_argument("files", nargs="+", type=Path, help="audio files (wav, flac, ogg, ...)")
    _gate_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument("--explain", type=Path, default=None, metavar="DIR",
                   help="write a Grad-CAM overlay PNG and a masked-in WAV per recording into DIR")
    s = sub.add_parser("serve", help="the gate as a web page and JSON API (binds to 127.0.0.1)")
    _gate_arguments(s)
    s.add_argument("--params", type=Path, default=Path("params.yaml"),
                   help="params file whose `serve` section sets limits and binding (default params.yaml)")
    s.add_argument("--host", default=None, help="override serve.host")
    s.add_argument("--port", type=int, default=None, help="override serve.port")
    s.add_argument("--token", default=None, help="override serve.token (or AUDIOLENS_TOKEN)")
    s.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback host without a token (anyone who reaches it can use the gate)")
    return parser


def gate_files(args):
    """:class:`audiolens.predictor.GateFiles` from the command line."""
    from audiolens.predictor import GateFiles

    return GateFiles(model=args.model, config=args.config, gate=args.gate, operating_point=args.operating_point,
                     eval_metrics=args.eval_metrics, method=args.method, threshold=args.threshold,
                     accept_threshold=args.accept_threshold, min_seconds=args.min_seconds)


def _text(r: dict) -> str:
    from audiolens.ood.check import describe

    if "error" in r:
        return f"{r['file']}: ERROR ({r['error']['code']}) {r['error']['message']}"
    u = r["uncertainty"]
    line = (f"{r['file']}: {r['decision'].upper()}  label={r['label']} confidence={r['confidence']:.3f} "
            f"{u['score']}={'%.3f' % (1 - u['max_prob']) if u['score'] == 'max_prob' else '%.3f' % u[u['score']]}"
            f" (threshold {u['threshold']:g}, {r['method']}, {r['n_segments']} segment(s), "
            f"{r['sound_s']:.2f} s of sound)")
    line += describe(r)
    if "explain" in r:
        line += f"\n  explain: {r['explain']['gradcam_png']}, {r['explain']['masked_in_wav']}"
    return line


def predict(args) -> int:
    from audiolens.predictor import Predictor

    if args.explain is not None and args.explain.exists() and not args.explain.is_dir():
        raise ConfigError(f"--explain {args.explain}: exists and is not a directory")
    predictor = Predictor(gate_files(args))  # checks the argument ranges first
    doc = predictor.document([predictor.score(path, explain_dir=args.explain) for path in args.files])
    print(json.dumps(doc, indent=2) if args.json else "\n".join(_text(r) for r in doc["results"]))
    return doc["status"]


def serve(args) -> int:
    from audiolens.predictor import Predictor
    from audiolens.serve.run import run

    return run(args, Predictor(gate_files(args)))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a configuration problem is one line ``audiolens: ...`` on stderr and status 2."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "predict":
            return predict(args)
        if args.command == "serve":
            return serve(args)
    except AudiolensError as exc:
        print("audiolens: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
