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
from shipyard.features.errors import EncoderError, FeatureDefinitionError, TrainingFrameError
from shipyard.features.featureset import FeatureSet, ScanResolver
from shipyard.features.frames import FrameLineage, lineage_of
from shipyard.features.scan import RECORDED_AT, FactScan
from shipyard.features.windows import Window, parse_window

__all__ = [
    "RECORDED_AT",
    "Aggregation",
    "EncoderError",
    "FactScan",
    "Feature",
    "FeatureDefinitionError",
    "FeatureSet",
    "FrameLineage",
    "ScanResolver",
    "TrainingFrameError",
    "Window",
    "aggregate",
    "count",
    "count_distinct",
    "last",
    "lineage_of",
    "max",
    "mean",
    "min",
    "parse_window",
    "sum",
]
