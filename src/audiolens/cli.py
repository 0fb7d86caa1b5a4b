"""``audiolens predict FILE... [--model ...] [--json] [--explain DIR]``: the voice gate.

Exit status: 0 all files scored; 2 usage or configuration error (one line on stderr, no file
is scored); 3 unreadable, corrupt or wrong-format input; 4 silent / pure noise (nothing left
after cleaning); 5 too short. With several files every file still gets its answer and the
run's status is the first of 3, 4, 5 that any file got (:data:`audiolens.inference.EXIT_PRECEDENCE`),
0 when all were scored; ``--json`` gives each file's ``status``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from audiolens.errors import AudiolensError, ConfigError, ModelError
from audiolens.io import file_problem, read_json_object

__all__ = ["main", "build_parser", "recording_settings"]

DEFAULT_GATE = Path("reports/uncertainty/abstain.json")
DEFAULT_OPERATING_POINT = Path("reports/eval/threshold.json")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="audiolens", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("predict", help="accept / reject / abstain on new recordings")
    p.add_argument("files", nargs="+", type=Path, help="audio files (wav, flac, ogg, ...)")
    p.add_argument("--model", type=Path, default=Path("models/model.keras"),
                   help="trained model (its folder holds resolved_params.yaml); default models/model.keras")
    p.add_argument("--config", type=Path, default=None,
                   help="resolved config the model was trained with (default: <model dir>/resolved_params.yaml)")
    p.add_argument("--gate", type=Path, default=None,
                   help="abstention settings from the uncertainty stage (method, score, threshold); default "
                        f"{DEFAULT_GATE} when it exists, else the model's own uncertainty settings")
    p.add_argument("--method", choices=["single", "mc_dropout", "ensemble"], default=None,
                   help="override the uncertainty method of --gate")
    p.add_argument("--threshold", type=float, default=None, help="override the abstention threshold")
    p.add_argument("--operating-point", type=Path, default=None,
                   help="binary accept threshold picked by the evaluate stage (accept when P(positive) >= it); "
                        f"default {DEFAULT_OPERATING_POINT} when it exists")
    p.add_argument("--accept-threshold", type=float, default=None,
                   help="override the binary accept threshold of --operating-point")
    p.add_argument("--min-seconds", type=float, default=0.25, help="minimum sound after cleaning (s)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument("--explain", type=Path, default=None, metavar="DIR",
                   help="write a Grad-CAM overlay PNG and a masked-in WAV per recording into DIR")
    return parser


def recording_settings(params) -> dict:
    """The ``clean``, ``segment`` and ``spectrogram`` settings of :func:`audiolens.inference.prepare_recording`
    from a resolved config (all at ``audio.sample_rate``)."""
    from audiolens.audio import CleanSettings
    from audiolens.config import to_settings
    from audiolens.features import SpectrogramConfig
    from audiolens.segments import SegmentSettings

    sr = params.audio.sample_rate
    return {"clean": to_settings(params.clean, CleanSettings, sample_rate=sr),
            "segment": to_settings(params.segment, SegmentSettings, sample_rate=sr),
            "spectrogram": to_settings(params.features, SpectrogramConfig, sample_rate=sr)}


def _check_args(args) -> None:
    """Argument ranges (a :class:`ConfigError`, exit 2, before anything is loaded)."""
    import math

    if not (math.isfinite(args.min_seconds) and args.min_seconds >= 0):
        raise ConfigError(f"--min-seconds must be a finite number >= 0, got {args.min_seconds:g}")
    if args.threshold is not None and not (math.isfinite(args.threshold) and args.threshold >= 0):
        raise ConfigError(f"--threshold must be a finite number >= 0, got {args.threshold:g}")
    if args.accept_threshold is not None and not 0.0 <= args.accept_threshold <= 1.0:
        raise ConfigError(f"--accept-threshold must lie in [0, 1], got {args.accept_threshold:g}")
    if args.explain is not None and args.explain.exists() and not args.explain.is_dir():
        raise ConfigError(f"--explain {args.explain}: exists and is not a directory")


def _settings_file(given: Path | None, default: Path) -> Path | None:
    """An explicitly given file must exist; the default is optional."""
    if given is not None:
        return given
    return default if os.path.lexists(default) else None


def _gate_config(args, params) -> dict:
    """Abstention settings: the model's own, then ``--gate``'s (validated), then the overrides.

    ``--threshold`` is any finite number >= 0 (:func:`_check_args`): above 1 with score
    ``max_prob`` it abstains on everything.
    """
    from audiolens.uncertainty.gate import check_gate_config

    u = params.uncertainty  # the model's own settings; abstain.json (the uncertainty stage's choice) wins
    cfg = {"method": "single", "score": "max_prob", "threshold": u.abstain_threshold, "members": [0],
           "mc_samples": u.mc_samples, "mc_layer": u.mc_layer, "seed": u.seed, "batch_size": u.batch_size}
    gate = _settings_file(args.gate, DEFAULT_GATE)
    if gate is not None:
        cfg.update(read_json_object(gate, "abstention settings (--gate)"))
        check_gate_config(cfg, f"abstention settings {gate}")
    if args.method:
        cfg["method"] = args.method
    if args.threshold is not None:
        cfg["threshold"] = args.threshold
    return cfg


def _accept_threshold(args) -> tuple[float | None, str]:
    """The binary accept threshold and where it came from (None: the most probable class decides)."""
    if args.accept_threshold is not None:
        return float(args.accept_threshold), "--accept-threshold"
    op = _settings_file(args.operating_point, DEFAULT_OPERATING_POINT)
    if op is not None:
        t = read_json_object(op, "operating point (--operating-point)").get("threshold")
        if t is None:
            return None, "most probable class"
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= 1.0:
            raise ConfigError(f"operating point {op}: threshold must be a number in [0, 1] or null, got {t!r}")
        return float(t), str(op)
    return None, "most probable class"


def _load(args):
    from audiolens.config import load_params
    from audiolens.models.registry import load_model
    from audiolens.uncertainty.members import member_paths

    config = args.config or args.model.parent / "resolved_params.yaml"
    problem = file_problem(args.model)
    if problem:
        hint = " (train it with `dvc repro`)" if problem.startswith("file not found") else ""
        raise ConfigError(f"model {args.model}: {problem}{hint}")
    problem = file_problem(config)
    if problem:
        raise ConfigError(f"config {config}: {problem} (the model's resolved_params.yaml, or --config)")
    params = load_params(config)
    meta_path = args.model.parent / "train_meta.json"
    meta = read_json_object(meta_path, "training metadata") if os.path.lexists(meta_path) else {}
    class_names = meta.get("class_names") or params.data.class_names
    if class_names is None:
        raise ConfigError(f"no class names: neither {meta_path} nor {config} (data.class_names) has them")
    if not (isinstance(class_names, list) and len(class_names) >= 2
            and all(isinstance(c, str) for c in class_names)):
        raise ConfigError(f"training metadata {meta_path}: class_names must be a list of >= 2 names, "
                          f"got {class_names!r}")
    cfg = _gate_config(args, params)
    paths = member_paths(args.model.parent, cfg["members"]) if cfg["method"] == "ensemble" else [args.model]
    models = [load_model(p) for p in paths]
    _check_shapes(models, class_names, recording_settings(params), paths)
    positive = 1 if params.data.positive is not None and len(class_names) == 2 else None
    return params, models, class_names, positive, cfg


def _load_ood(args, models, cfg):
    """The out-of-distribution check beside the model (None when absent) and the model it embeds with (the main one)."""
    from audiolens.errors import ModelError
    from audiolens.models.registry import load_model
    from audiolens.ood.check import load_for_model

    try:
        ood = load_for_model(args.model)
    except ModelError as exc:
        raise SystemExit(f"audiolens: {exc}") from None
    main_first = cfg["method"] != "ensemble" or list(cfg["members"])[:1] == [0]
    return ood, (models[0] if ood is None or main_first else load_model(args.model))


def _check_shapes(models, class_names, settings, paths) -> None:
    """Every model takes the configured spectrograms and outputs one probability per class."""
    spec, seg = settings["spectrogram"], settings["segment"]
    want = (spec.n_freqs, spec.n_frames(seg.length))
    for model, path in zip(models, paths):
        got_in = tuple(model.input_shape[1:3])
        n_out = model.output_shape[-1]
        if any(g is not None and g != w for g, w in zip(got_in, want)):
            raise ModelError(f"model {path}: takes {got_in[0]} x {got_in[1]} spectrograms, the config gives "
                             f"{want[0]} x {want[1]} (a --config from another training run?)")
        if n_out != len(class_names):
            raise ModelError(f"model {path}: {n_out} outputs for {len(class_names)} class names {class_names}")


def _score(prep, models, cfg):
    from audiolens.uncertainty.gate import predictive

    x = prep.x[..., None]
    pred = predictive(cfg["method"], models=models, x=x, mc_samples=int(cfg["mc_samples"]),
                      mc_layer=cfg["mc_layer"], seed=int(cfg["seed"]), batch_size=int(cfg["batch_size"]))
    return pred


def _explain(path: Path, prep, model, label_index: int, segment_probs, spectrogram, out_dir: Path) -> dict:
    """Grad-CAM of the most confident segment for the predicted class, and its masked-in audio."""
    import numpy as np

    from audiolens.features import db_to_audio
    from audiolens.interpret.cam import grad_cam
    from audiolens.attribution.masks import apply_mask, make_mask
    from audiolens.io import write_audio
    from audiolens.plots import new_figure, save_figure, show_spectrogram

    c = label_index
    k = int(np.argmax(segment_probs[:, c]))
    x = prep.x[k]
    cam = grad_cam(model, x[None], class_index=np.array([c]))[0]
    mask = make_mask(cam, "minmax")
    masked = apply_mask(x, mask)          # removed bins at the segment's own minimum
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = path.stem
    fig, ax = new_figure(1, 3, size=(3.2, 2.6))
    show_spectrogram(ax[0, 0], x, title="input (dB)")
    show_spectrogram(ax[0, 1], cam, title="Grad-CAM", cmap="inferno")
    show_spectrogram(ax[0, 2], x, title="overlay")
    ax[0, 2].imshow(cam, origin="lower", aspect="auto", cmap="inferno", alpha=0.5)
    png = save_figure(fig, out_dir / f"{stem}_gradcam.png")
    audio = db_to_audio(masked, config=spectrogram, ref_amplitude=float(prep.ref_amplitude[k]),
                        length=prep.segments_audio.shape[1], source_audio=prep.segments_audio[k])
    wav = write_audio(out_dir / f"{stem}_masked_in.wav", audio, prep.sample_rate)
    return {"segment": k, "gradcam_png": str(png), "masked_in_wav": str(wav)}


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
    import numpy as np

    from audiolens.inference import PredictError, batch_status, prepare_recording, recording_decision
    from audiolens.ood.check import apply_check

    _check_args(args)
    params, models, class_names, positive, cfg = _load(args)
    ood, ood_model = _load_ood(args, models, cfg)
    accept_t, accept_src = _accept_threshold(args) if positive is not None else (None, "not a binary gate")
    settings = recording_settings(params)
    results = []
    for path in args.files:
        try:
            prep = prepare_recording(path, **settings, min_seconds=args.min_seconds)
        except PredictError as exc:
            results.append({"file": str(path), "status": exc.code,
                            "error": {"code": exc.code, "message": str(exc)}})
            continue
        pred = _score(prep, models, cfg)
        r = {"file": str(path), "status": 0, "method": cfg["method"],
             **recording_decision(pred.samples, score=cfg["score"], threshold=cfg["threshold"],
                                  class_names=class_names, positive_index=positive,
                                  accept_threshold=accept_t),
             "n_segments": int(prep.x.shape[0]), "duration_s": prep.info["duration_in_s"],
             "sound_s": prep.info["duration_out_s"],
             "segments": [{"start_s": float(s), "label": class_names[int(np.argmax(p))],
                           "confidence": float(np.max(p))} for s, p in zip(prep.starts_s, pred.mean)]}
        apply_check(r, ood.evaluate(ood_model, prep) if ood is not None else None)
        if args.explain is not None:
            r["explain"] = _explain(path, prep, models[0], class_names.index(r["label"]), pred.mean,
                                    settings["spectrogram"], args.explain)
        results.append(r)
    status = batch_status([r["status"] for r in results])
    if args.json:
        print(json.dumps({"status": status, "results": results, "class_names": class_names, "gate": {
            k: cfg[k] for k in ("method", "score", "threshold")},
            "accept": {"threshold": accept_t, "source": accept_src}}, indent=2))
    else:
        print("\n".join(_text(r) for r in results))
    return status


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a configuration problem is one line ``audiolens: ...`` on stderr and status 2."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "predict":
            return predict(args)
    except AudiolensError as exc:
        print("audiolens: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
