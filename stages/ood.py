"""Stage ood: fit the gate's out-of-distribution check -> models/ood.npz, reports/ood/.

k-NN (or Mahalanobis) distance of a recording's embeddings to the training embeddings, its
threshold set on validation (``gate.pass_rate`` of the recordings pass), plus speech
presence; then generated non-speech, ``gate.extra_ood_dirs`` and unseen demo speakers go
through the whole gate as ``audiolens predict`` runs it (false accepts in metrics.json).
"""
import json

from audiolens.audio import CleanSettings
from audiolens.config import save_resolved, to_settings
from audiolens.features import SpectrogramConfig
from audiolens.io import atomic_dir
from audiolens.ood import stage
from audiolens.paths import ABSTAIN, CLEAN, EVAL_THRESHOLD, FEATURES, MODEL, MODELS, OOD_CHECK, SPLIT_TABLE
from audiolens.paths import OOD_REPORT as OUT
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.segments import SegmentSettings
from audiolens.stage_io import load_stage_inputs
from audiolens.uncertainty.gate import load_gate


@stage_main
def main() -> None:
    params, log = start_stage("ood", tensorflow=True)
    g, sr, d = params.gate, params.audio.sample_rate, params.demo
    inp = load_stage_inputs(features=FEATURES, split=SPLIT_TABLE, model=MODEL, seed=g.seed)
    gate = load_gate(ABSTAIN, models_dir=MODELS)
    class_names = inp.store.meta["class_names"]
    positive = 1 if params.data.positive is not None and len(class_names) == 2 else None
    accept = json.loads(EVAL_THRESHOLD.read_text()).get("threshold") if positive is not None else None
    prep = {"clean": to_settings(params.clean, CleanSettings, sample_rate=sr),
            "segment": to_settings(params.segment, SegmentSettings, sample_rate=sr),
            "spectrogram": to_settings(params.features, SpectrogramConfig, sample_rate=sr)}
    demo = (dict(scripts=d.scripts, duration_s=d.duration_s, sample_rate=d.sample_rate, noise_lead_s=d.noise_lead_s,
                 snr_db=d.snr_db) if params.data.layout == "demo" else None)
    with timed(log, "ood"), atomic_dir(OUT) as tmp:
        m = stage.run(model=inp.model, gate=gate, store=inp.store, clean_dir=CLEAN, class_names=class_names,
                      positions={s: inp.positions(s) for s in ("train", "val", "test")}, positive=positive,
                      accept_threshold=accept, prep_settings=prep, demo=demo, model_path=OOD_CHECK, out_dir=tmp,
                      settings=to_settings(g, stage.OODSettings, sample_rate=sr))
        save_resolved(params, tmp / "resolved_params.yaml", sections=["gate"])
    log.info("validation pass rate %.3f (n=%d); generated OOD: AUROC %s, %d false accepts of %d",
             m["val_pass_rate"], m["n_val"], m["auroc_generated"], m["generated_false_accepts"], m["n_generated"])


if __name__ == "__main__":
    main()
