"""Checking a feature's `where=` filter against its table's columns before any query runs,
so that a typo in a column name is reported with the feature's name, not as a failure deep
inside the compiled training-frame query."""

from __future__ import annotations

from collections.abc import Mapping

from shipyard.features import duck
from shipyard.features.errors import FeatureDefinitionError
from shipyard.features.types import empty_facts

__all__ = ["check_filters"]


def check_filters(table: str, schema: Mapping[str, str], filters: Mapping[str, str]) -> None:
    """Refuse any filter (by feature name) that DuckDB cannot evaluate over the table's
    columns; no data is read, and one connection checks them all."""
    if not filters:
        return
    import duckdb

    with duck.connection() as connection:
        connection.register("facts", empty_facts(schema))
        for feature, where in filters.items():
            try:
                connection.sql(f"SELECT count(*) FROM facts WHERE ({where})").fetchall()
            except duckdb.Error as exc:
                first_line = str(exc).splitlines()[0]
                raise FeatureDefinitionError(
                    f"feature {feature!r}: where={where!r} does not work on the columns of "
                    f"{table!r} ({', '.join(sorted(schema))}): {first_line}"
                ) from None
