"""Stage paramspace: per-epoch weights + test split -> reports/paramspace/.

Per-layer drift ‖W_e − W_0‖ (and relative) over epochs, and the layer re-initialisation
study (reset to initial / fresh random weights; BN statistics per ``interpret.reset_bn_stats``).
"""
from audiolens.config import save_resolved, to_settings
from audiolens.interpret import paramspace_stage
from audiolens.io import atomic_dir
from audiolens.paths import FEATURES, MODEL, SPLIT_TABLE, WEIGHTS
from audiolens.paths import PARAMSPACE_REPORT as OUT
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.stage_io import load_stage_inputs


@stage_main
def main() -> None:
    params, log = start_stage("paramspace", tensorflow=True)
    p = params.interpret
    inp = load_stage_inputs(features=FEATURES, split=SPLIT_TABLE, model=MODEL, seed=p.seed)
    with timed(log, "paramspace"), atomic_dir(OUT) as tmp:
        summary = paramspace_stage.run(model=inp.model, weights_dir=WEIGHTS, store=inp.store,
                                       split_df=inp.split, out_dir=tmp,
                                       settings=to_settings(p, paramspace_stage.ParamspaceSettings))
        save_resolved(params, tmp / "resolved_params.yaml", sections=["interpret"])
    log.info("paramspace: %d layers over %d epochs; reference accuracy %.3f; critical: %d (initial), "
             "%d (random)", summary["n_layers"], summary["epochs"], summary["reference"]["accuracy"],
             summary["n_critical_initial"], summary["n_critical_random"])


if __name__ == "__main__":
    main()
