"""``audiolens predict FILE...`` (the voice gate on files) and ``audiolens serve`` (in a browser).

Exit status of ``predict``: 0 all files scored; 2 usage or configuration error; 3 unreadable,
corrupt or wrong-format input; 4 silent / pure noise (nothing left after cleaning); 5 too
short. With several files the highest status is returned; each file still gets its answer.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "gate_files"]


def _gate_arguments(p: argparse.ArgumentParser) -> None:
    """Where the gate's parts live (shared by ``predict`` and ``serve``)."""
    p.add_argument("--model", type=Path, default=Path("models/model.keras"),
                   help="trained model (its folder holds resolved_params.yaml); default models/model.keras")
    p.add_argument("--config", type=Path, default=None,
                   help="resolved config the model was trained with (default: <model dir>/resolved_params.yaml)")
    p.add_argument("--gate", type=Path, default=Path("reports/uncertainty/abstain.json"),
                   help="abstention settings from the uncertainty stage (method, score, threshold)")
    p.add_argument("--method", choices=["single", "mc_dropout", "ensemble"], default=None,
                   help="override the uncertainty method of --gate")
    p.add_argument("--threshold", type=float, default=None, help="override the abstention threshold")
    p.add_argument("--operating-point", type=Path, default=Path("reports/eval/threshold.json"),
                   help="binary accept threshold picked by the evaluate stage (accept when P(positive) >= it)")
    p.add_argument("--accept-threshold", type=float, default=None,
                   help="override the binary accept threshold of --operating-point")
    p.add_argument("--eval-metrics", type=Path, default=Path("reports/eval/metrics.json"),
                   help="test metrics shown in the model card (serve: GET /api/model)")
    p.add_argument("--min-seconds", type=float, default=0.25, help="minimum sound after cleaning (s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiolens", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
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


def _load(args):
    from audiolens.errors import AudiolensError
    from audiolens.predictor import Predictor

    try:
        return Predictor(gate_files(args))
    except AudiolensError as exc:
        raise SystemExit(f"audiolens: {exc}") from None


def _text(r: dict) -> str:
    if "error" in r:
        return f"{r['file']}: ERROR ({r['error']['code']}) {r['error']['message']}"
    u = r["uncertainty"]
    line = (f"{r['file']}: {r['decision'].upper()}  label={r['label']} confidence={r['confidence']:.3f} "
            f"{u['score']}={'%.3f' % (1 - u['max_prob']) if u['score'] == 'max_prob' else '%.3f' % u[u['score']]}"
            f" (threshold {u['threshold']:g}, {r['method']}, {r['n_segments']} segment(s), "
            f"{r['sound_s']:.2f} s of sound)")
    if "explain" in r:
        line += f"\n  explain: {r['explain']['gradcam_png']}, {r['explain']['masked_in_wav']}"
    return line


def predict(args) -> int:
    predictor = _load(args)
    results = [predictor.score(path, explain_dir=args.explain) for path in args.files]
    status = max([r["error"]["code"] for r in results if "error" in r], default=0)
    if args.json:
        print(json.dumps(predictor.document(results), indent=2))
    else:
        print("\n".join(_text(r) for r in results))
    return status


def serve(args) -> int:
    from audiolens.serve.run import run

    return run(args, _load(args))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    if args.command == "predict":
        return predict(args)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
