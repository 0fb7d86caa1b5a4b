"""Stage interpret: model + features + split -> reports/interpret/.

Filters, feature maps, embedding retrieval (precision@k metric in retrieval.json),
2-D projection and CAM / Grad-CAM figures, all bounded by the ``interpret`` params.
"""
from audiolens.bootstrap import BootstrapSettings
from audiolens.config import save_resolved, to_settings
from audiolens.interpret import stage
from audiolens.io import atomic_dir
from audiolens.paths import FEATURES, MODEL, SPLIT_TABLE
from audiolens.paths import INTERPRET_REPORT as OUT
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.stage_io import load_stage_inputs


@stage_main
def main() -> None:
    params, log = start_stage("interpret", tensorflow=True)
    p = params.interpret
    inp = load_stage_inputs(features=FEATURES, split=SPLIT_TABLE, model=MODEL, seed=p.seed)
    with atomic_dir(OUT) as tmp, timed(log, "interpret"):
        summary = stage.run(model=inp.model, store=inp.store, split_df=inp.split, out_dir=tmp,
                            settings=to_settings(p, stage.InterpretSettings,
                                                 bootstrap=to_settings(params.bootstrap, BootstrapSettings)))
        save_resolved(params, tmp / "resolved_params.yaml", sections=["interpret", "bootstrap"])
    log.info("interpret: %d conv layers, %d examples, precision@%d = %.3f over %d queries; CAM %s",
             summary["n_conv_layers"], summary["n_examples"], summary["k"],
             summary["precision_at_k"], summary["n_queries"], summary["cam"])


if __name__ == "__main__":
    main()
