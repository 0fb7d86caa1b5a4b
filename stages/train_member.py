"""Stage train_member@i: deep-ensemble member i (seed train.seed + 1000*i) -> models/ensemble/<i>/.

Same recipe as the ``train`` stage (``model`` + ``train`` params) except the seed, no
per-epoch checkpoints or DVCLive, and ``uncertainty.member_epochs`` epochs when set.
With ``train.distribute: multi_worker`` only the chief writes (the other workers: a scratch folder).
"""
import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from audiolens.config import save_resolved
from audiolens.config.settings import to_settings
from audiolens.distribution import is_chief
from audiolens.errors import ConfigError
from audiolens.io import atomic_write_json
from audiolens.models.settings import ModelSettings
from audiolens.paths import FEATURES, MODELS, SPLIT_TABLE
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.training import TrainSettings, train_model
from audiolens.uncertainty.members import member_dir, member_seed


@stage_main
def main() -> None:
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--member", type=int, required=True, help="member id (>= 1)")
    args, rest = ap.parse_known_args()
    params, log = start_stage(f"train_member@{args.member}", rest, tensorflow=True)
    u = params.uncertainty
    if args.member not in u.members:
        raise ConfigError(f"--member {args.member} is not in uncertainty.members {u.members}")
    epochs = u.member_epochs or params.train.epochs
    train = replace(to_settings(params.train, TrainSettings), seed=member_seed(params.train.seed, args.member),
                    save_epochs=False, epochs=epochs, min_epochs=min(params.train.min_epochs, epochs),
                    warmup_epochs=min(params.train.warmup_epochs, epochs - 1))
    with tempfile.TemporaryDirectory(prefix="audiolens-worker-") as scratch:
        out = member_dir(MODELS, args.member) if is_chief() else Path(scratch)
        log.info("member %d: seed %d, %d epochs -> %s", args.member, train.seed, train.epochs, out)
        with timed(log, f"training member {args.member}"):
            _, meta = train_model(features_dir=FEATURES, split=SPLIT_TABLE, out_dir=out, settings=train,
                                  model_settings=to_settings(params.model, ModelSettings), live_dir=None,
                                  verbose=0)
        atomic_write_json(out / "member.json", {"member": args.member, "seed": train.seed,
                                                "epochs": train.epochs, "epochs_run": meta["epochs_run"],
                                                "best_epoch": meta["best_epoch"]})
        save_resolved(params, out / "resolved_params.yaml", sections=["model", "train"])


if __name__ == "__main__":
    main()
