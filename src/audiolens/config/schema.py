"""The whole params.yaml schema: one section model per stage group."""
from __future__ import annotations

from pydantic import Field, model_validator

from audiolens.config.analysis import (AttributionParams, EdaParams, GateParams, InterpretParams,
                                       ReportParams, UncertaintyParams)
from audiolens.config.base import Section
from audiolens.config.data import DataParams, DemoParams
from audiolens.config.learn import (BaselineParams, BootstrapParams, EvaluateParams, ModelParams, NumericsParams,
                                    SplitParams, TrainParams)
from audiolens.config.serve import ServeParams
from audiolens.config.preprocess import (AudioParams, AugmentParams, CleanParams,
                                         FeaturesParams, SegmentParams)


class Params(Section):
    """All sections of params.yaml; a missing section takes its defaults."""

    data: DataParams = Field(default_factory=DataParams)
    demo: DemoParams = Field(default_factory=DemoParams)
    audio: AudioParams = Field(default_factory=AudioParams)
    clean: CleanParams = Field(default_factory=CleanParams)
    segment: SegmentParams = Field(default_factory=SegmentParams)
    augment: AugmentParams = Field(default_factory=AugmentParams)
    features: FeaturesParams = Field(default_factory=FeaturesParams)
    split: SplitParams = Field(default_factory=SplitParams)
    model: ModelParams = Field(default_factory=ModelParams)
    train: TrainParams = Field(default_factory=TrainParams)
    numerics: NumericsParams = Field(default_factory=NumericsParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    baseline: BaselineParams = Field(default_factory=BaselineParams)
    bootstrap: BootstrapParams = Field(default_factory=BootstrapParams)
    eda: EdaParams = Field(default_factory=EdaParams)
    uncertainty: UncertaintyParams = Field(default_factory=UncertaintyParams)
    gate: GateParams = Field(default_factory=GateParams)
    interpret: InterpretParams = Field(default_factory=InterpretParams)
    attribution: AttributionParams = Field(default_factory=AttributionParams)
    report: ReportParams = Field(default_factory=ReportParams)
    serve: ServeParams = Field(default_factory=ServeParams)

    @model_validator(mode="after")
    def _across_sections(self) -> "Params":
        """Rules between sections (all broken ones are listed at once)."""
        problems = _rate_rules(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _unseen_speakers_are_new(self) -> "Params":
        if self.data.layout == "demo":
            seen = sorted(set(self.gate.unseen_speakers) & set(self.demo.speakers))
            if seen:
                raise ValueError(f"gate.unseen_speakers: {seen} are in demo.speakers (trained on); "
                                 f"name speakers the demo corpus does not have")
        return self

def _rate_rules(p: "Params") -> list[str]:
    """Frequencies below Nyquist and window sizes that fit a segment at the working rate."""
    sr = p.audio.sample_rate
    nyq = sr / 2
    f, seg = p.features, p.segment
    out = []
    if f.fmax is not None and f.fmax > nyq:
        out.append(f"features.fmax ({f.fmax:g} Hz) must be <= audio.sample_rate / 2 ({nyq:g} Hz)")
    if f.fmin >= nyq:
        out.append(f"features.fmin ({f.fmin:g} Hz) must be below audio.sample_rate / 2 ({nyq:g} Hz)")
    if p.eda.pyin_fmax >= nyq:
        out.append(f"eda.pyin_fmax ({p.eda.pyin_fmax:g} Hz) must be below audio.sample_rate / 2 ({nyq:g} Hz)")
    seg_samples = int(round(seg.length_s * sr))
    if f.n_fft > seg_samples:
        out.append(f"features.n_fft ({f.n_fft} samples) must be <= one segment: segment.length_s "
                   f"({seg.length_s:g} s) x audio.sample_rate ({sr} Hz) = {seg_samples} samples")
    if f.hop_length > seg_samples:
        out.append(f"features.hop_length ({f.hop_length} samples) must be <= one segment: segment.length_s "
                   f"({seg.length_s:g} s) x audio.sample_rate ({sr} Hz) = {seg_samples} samples")
    if f.kind == "mel" and f.n_mels > f.n_fft // 2 + 1:
        out.append(f"features.n_mels ({f.n_mels}) must be <= features.n_fft // 2 + 1 ({f.n_fft // 2 + 1} "
                   f"linear bins) with features.kind mel, or some mel bands are empty")
    if seg.hop_s is not None and int(round(seg.hop_s * sr)) < 1:
        out.append(f"segment.hop_s ({seg.hop_s:g} s) is less than one sample at audio.sample_rate ({sr} Hz)")
    return out
