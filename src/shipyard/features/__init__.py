"""Facts and shared features: bitemporal fact tables, feature and encoder definitions, and
point-in-time-correct training sets (see docs/features.md)."""

from shipyard.features.definitions import (
    Aggregation,
    Feature,
    aggregate,
    count,
    count_distinct,
    last,
    max,
    mean,
    min,
    sum,
)
from shipyard.features.encoders import (
    Encoder,
    bucketize,
    category,
    fill_missing,
    log1p,
    one_hot,
    standardize,
)
from shipyard.features.errors import EncoderError, FeatureDefinitionError, TrainingFrameError
from shipyard.features.featureset import FeatureSet, ScanResolver
from shipyard.features.fitted import FittedFeatureSet
from shipyard.features.frames import FrameLineage, lineage_of
from shipyard.features.scan import RECORDED_AT, FactScan
from shipyard.features.vectorized import PythonFeature, python
from shipyard.features.windows import Window, parse_window

__all__ = [
    "RECORDED_AT",
    "Aggregation",
    "Encoder",
    "EncoderError",
    "FactScan",
    "Feature",
    "FeatureDefinitionError",
    "FeatureSet",
    "FittedFeatureSet",
    "FrameLineage",
    "PythonFeature",
    "ScanResolver",
    "TrainingFrameError",
    "Window",
    "aggregate",
    "bucketize",
    "category",
    "count",
    "count_distinct",
    "fill_missing",
    "last",
    "lineage_of",
    "log1p",
    "max",
    "mean",
    "min",
    "one_hot",
    "parse_window",
    "python",
    "standardize",
    "sum",
]
