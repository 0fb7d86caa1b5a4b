"""Stage uncertainty: single model vs MC dropout vs deep ensemble -> reports/uncertainty/.

Calibration (NLL, Brier, ECE/MCE), misclassification detection (AUROC/AUPRC), risk–coverage
and AURC on the test split, metrics vs MC passes / ensemble size, figures, and the abstention
threshold (evaluated on validation) in ``abstain.json`` for the voice gate.
"""
from audiolens.bootstrap import BootstrapSettings
from audiolens.config import save_resolved, to_settings
from audiolens.io import atomic_dir
from audiolens.models.registry import load_model
from audiolens.paths import FEATURES, MODELS, SPLIT_TABLE
from audiolens.paths import UNCERTAINTY_REPORT as OUT
from audiolens.runtime import seed_everything, stage_main, start_stage, timed
from audiolens.stage_io import load_stage_inputs
from audiolens.uncertainty import stage
from audiolens.uncertainty.members import member_paths


@stage_main
def main() -> None:
    params, log = start_stage("uncertainty", tensorflow=True)
    u = params.uncertainty
    seed_everything(u.seed)
    ids = [0] + [m for m in u.member_ids if m != 0]  # the main model is always loaded (single, MC)
    models = {i: load_model(p) for i, p in zip(ids, member_paths(MODELS, ids))}
    if not u.include_main:
        log.info("include_main: false -> the ensemble uses members %s only", u.members)
    inp = load_stage_inputs(features=FEATURES, split=SPLIT_TABLE)
    store = inp.store
    y_all = store.index["label_index"].to_numpy()
    rec = store.index.get("recording_id", store.index["segment_id"]).to_numpy()
    splits = {}
    for name in ("val", "test"):
        pos = inp.positions(name)
        x = store.rows(pos, channel=True)  # read from the memory-mapped shards one batch at a time
        splits[name] = (store.index["segment_id"].to_numpy()[pos], x, y_all[pos], rec[pos])
        log.info("%s: %d segments", name, len(pos))
    with timed(log, "uncertainty analysis"), atomic_dir(OUT) as tmp:
        head = stage.run(models=models, ensemble_ids=u.member_ids, splits=splits, out_dir=tmp,
                         class_names=store.meta["class_names"],
                         settings=to_settings(u, stage.UncertaintySettings,
                                              bootstrap=to_settings(params.bootstrap, BootstrapSettings)))
        save_resolved(params, tmp / "resolved_params.yaml", sections=["uncertainty", "bootstrap"])
    for m in ("single", "mc_dropout", "ensemble"):
        log.info("%-10s acc %.3f  NLL %.3f  ECE %.3f", m, head[m]["accuracy"], head[m]["nll"], head[m]["ece"])


if __name__ == "__main__":
    main()
