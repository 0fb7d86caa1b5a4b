"""The whole params.yaml schema: one section model per stage group."""
from __future__ import annotations

from pydantic import Field, model_validator

from audiolens.config.analysis import (AttributionParams, EdaParams, InterpretParams,
                                       ReportParams, UncertaintyParams)
from audiolens.config.base import Section
from audiolens.config.data import DataParams, DemoParams
from audiolens.config.learn import (BaselineParams, EvaluateParams, ModelParams, NumericsParams,
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
    eda: EdaParams = Field(default_factory=EdaParams)
    uncertainty: UncertaintyParams = Field(default_factory=UncertaintyParams)
    interpret: InterpretParams = Field(default_factory=InterpretParams)
    attribution: AttributionParams = Field(default_factory=AttributionParams)
    report: ReportParams = Field(default_factory=ReportParams)
    serve: ServeParams = Field(default_factory=ServeParams)

    @model_validator(mode="after")
    def _below_nyquist(self) -> "Params":
        nyq = self.audio.sample_rate / 2
        f = self.features
        if f.fmax is not None and f.fmax > nyq:
            raise ValueError(f"features.fmax ({f.fmax:g} Hz) must be <= audio.sample_rate / 2 ({nyq:g} Hz)")
        if f.fmin >= nyq:
            raise ValueError(f"features.fmin ({f.fmin:g} Hz) must be below audio.sample_rate / 2 ({nyq:g} Hz)")
        if self.eda.pyin_fmax >= nyq:
            raise ValueError(f"eda.pyin_fmax ({self.eda.pyin_fmax:g} Hz) must be below audio.sample_rate / 2 "
                             f"({nyq:g} Hz)")
        return self
