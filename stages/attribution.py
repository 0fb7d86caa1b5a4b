"""Stage attribution: explainers, masks, mask-and-reconstruct, fidelity, sanity check, noise -> reports/attribution/.

Explains a bounded, class-stratified sample of the test split with every configured
explainer, turns the maps into masks, measures fidelity in the spectral domain and after
the audio round trip, writes listenable WAVs (original / masked-in / masked-out), runs the
cascading model-parameter randomisation check and repeats accuracy, calibration and
fidelity on noise-contaminated audio.
"""
from pathlib import Path

from audiolens.attribution.settings import AttributionSettings
from audiolens.bootstrap import BootstrapSettings
from audiolens.config import ConfigError, save_resolved, to_settings
from audiolens.attribution import stage
from audiolens.features import SpectrogramConfig
from audiolens.io import atomic_dir
from audiolens.paths import ATTRIBUTION_REPORT as OUT
from audiolens.paths import FEATURES, MODEL, SPLIT_TABLE
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.stage_io import load_stage_inputs


@stage_main
def main() -> None:
    params, log = start_stage("attribution", tensorflow=True)
    a = params.attribution
    for f in a.noise_files:
        if not Path(f).is_file():
            raise ConfigError(f"attribution.noise_files: {f} does not exist")
    inp = load_stage_inputs(features=FEATURES, split=SPLIT_TABLE, model=MODEL, seed=a.seed)
    store, test, train = inp.store, inp.positions("test"), inp.positions("train")
    log.info("test %d, train %d segments; features %s %s", len(test), len(train), store.meta["kind"], store.shape)
    with timed(log, "attribution analysis"), atomic_dir(OUT) as tmp:
        head = stage.run(model=inp.model, store=store, test_positions=test, train_positions=train,
                         config=SpectrogramConfig.from_meta(store.meta), out_dir=tmp, audio_root=".",
                         settings=to_settings(a, AttributionSettings),
                         bootstrap=to_settings(params.bootstrap, BootstrapSettings))
        save_resolved(params, tmp / "resolved_params.yaml", sections=["attribution", "bootstrap"])
    for name, m in head["explainers"].items():
        vs = m.get("vs_random", {})
        log.info("%-21s deletion AUC %s (vs random: %s)  insertion AUC %s (%s)  FF %s (%s)  sanity %s", name,
                 m.get("deletion_auc"), vs.get("deletion_auc", {}).get("verdict", "-"), m.get("insertion_auc"),
                 vs.get("insertion_auc", {}).get("verdict", "-"), m.get("FF"), vs.get("FF", {}).get("verdict", "-"),
                 m.get("sanity_status", "-") + f" {m.get('sanity_spearman_abs')}")


if __name__ == "__main__":
    main()
