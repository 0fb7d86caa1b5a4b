"""Stage demo: write the synthetic DAPS-like corpus to data/raw/demo (when data.layout is demo)."""
from audiolens.corpus.demo import write_demo_corpus
from audiolens.io import atomic_dir
from audiolens.paths import DEMO_CORPUS as OUT
from audiolens.runtime import stage_main, start_stage, timed


@stage_main
def main() -> None:
    params, log = start_stage("demo")
    with atomic_dir(OUT) as tmp:
        if params.data.layout != "demo":
            (tmp / "README.txt").write_text("data.layout is not 'demo': no demo corpus generated.\n")
            log.info("data.layout=%s: demo corpus not generated", params.data.layout)
            return
        d = params.demo
        with timed(log, "demo corpus"):
            paths = write_demo_corpus(tmp, speakers=d.speakers, scripts=d.scripts, duration_s=d.duration_s,
                                      sample_rate=d.sample_rate, noise_lead_s=d.noise_lead_s,
                                      snr_db=d.snr_db, seed=d.seed)
        log.info("wrote %d recordings (%d speakers x %d scripts, %.0f s each)",
                 len(paths), len(d.speakers), d.scripts, d.duration_s)


if __name__ == "__main__":
    main()
