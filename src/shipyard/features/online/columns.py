"""The columns of a feature set's online vectors: each feature's type and empty value.

SQL features take their type from the definition and the fact table's schema, so it never
depends on which entities a batch holds (a training frame would turn integers with a null
into floats); a Python feature's type is that of its computed values (float64 when a batch
has none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from shipyard.features.definitions import Aggregation, Feature, is_numeric_type
from shipyard.features.online.records import FeatureColumn
from shipyard.features.scan import FactScan

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.features.featureset import FeatureSet

__all__ = ["feature_columns"]


def feature_columns(
    feature_set: FeatureSet, scans: Mapping[str, FactScan], frame: pd.DataFrame
) -> tuple[FeatureColumn, ...]:
    """Every feature's column, in declared order; `frame` is a computed training frame of
    the set (for the Python features' types)."""
    columns = []
    for feature in feature_set.features:
        if isinstance(feature, Feature):
            type_name = _sql_type(feature, scans[feature.table].schema)
            columns.append(FeatureColumn(feature.name, type_name, feature.aggregation.empty_value))
        else:
            columns.append(FeatureColumn(feature.name, _computed_type(frame[feature.name])))
    return tuple(columns)


def _sql_type(feature: Feature, schema: Mapping[str, str]) -> str:
    kind = feature.aggregation
    if kind in (Aggregation.COUNT, Aggregation.COUNT_DISTINCT):
        return "int64"
    if kind is Aggregation.MEAN:
        return "double"
    column_type = schema[str(feature.column)]
    if kind is Aggregation.SUM:  # DuckDB sums integers into integers (cast to BIGINT)
        return "int64" if is_numeric_type(column_type) and "int" in column_type else "double"
    return column_type  # last, min and max keep the column's type


def _computed_type(values: pd.Series) -> str:
    import pyarrow as pa

    computed = pa.array(values, from_pandas=True).type
    return "double" if pa.types.is_null(computed) else str(computed)
