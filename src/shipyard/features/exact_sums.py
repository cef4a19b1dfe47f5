"""Sums of floating-point facts whose result does not depend on the order they are added in.

A training frame must be byte-identical when rebuilt, but a parallel join hands each label's
facts to its aggregate in no fixed order, and floating-point addition rounds differently in
another order. Sorting every group's facts first (`avg(x ORDER BY time)`) fixes the order and
costs more than the rest of the query together. Instead, where a column allows it, each value
is scaled by a power of two to an integer, exactly, and the integers are added in 128 bits,
which is exact in any order; the sum is rounded back to a double once.

A column allows it when every value is a multiple of one power of two (the unit in the last
place of its smallest nonzero magnitude) and the largest magnitude, times the number of facts,
still fits in 126 bits on that grid: true of every column whose magnitudes span less than
about 2^50 (a million facts; 1e15), e.g. prices, durations, counts, scores. Columns with
non-finite values or a wider span keep the sorted sum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from shipyard.features.definitions import Aggregation, Feature
from shipyard.features.scan import FactScan
from shipyard.features.sql_text import identifier, literal

if TYPE_CHECKING:
    import duckdb

__all__ = ["exact_scales", "exact_sum"]

# Bits an exact sum may use: HUGEINT is a signed 128-bit integer; one bit spare for rounding.
_BITS = 126
# The smallest exponent of a normal double, and the largest of any.
_SMALLEST_EXPONENT = -1022
_LARGEST_EXPONENT = 1023
_FLOATS = ("double", "float")


def exact_scales(
    connection: duckdb.DuckDBPyConnection, scan: FactScan, features: Iterable[Feature]
) -> dict[str, int]:
    """For each floating-point column that `features` sum or average over a bounded window
    (the aggregates that would add up in time order), if the column allows it, the power of
    two that scales its every value in `scan` to an integer; the others are left out."""
    names = sorted(
        {
            str(f.column)
            for f in features
            if f.aggregation in (Aggregation.SUM, Aggregation.MEAN)
            and not f.window.is_unbounded
            and scan.schema.get(str(f.column)) in _FLOATS
        }
    )
    if not names or not scan.files:
        return {}
    source = f"read_parquet([{', '.join(literal(path) for path in scan.files)}])"
    figures = ", ".join(
        f"min(abs({c})) FILTER (WHERE {c} <> 0), max(abs({c})), bool_and(isfinite({c}))"
        for c in (identifier(name) for name in names)
    )
    # `execute`, not `sql`: a relation would plan the query once more to describe it.
    found = connection.execute(f"SELECT count(*), {figures} FROM {source}").fetchall()[0]
    rows = int(found[0])
    scales = {}
    for n, name in enumerate(names):
        smallest, largest, finite = found[1 + 3 * n : 4 + 3 * n]
        scale = _scale(smallest, largest, finite, rows)
        if scale is not None:
            scales[name] = scale
    return scales


def _scale(
    smallest: float | None, largest: float | None, finite: bool | None, rows: int
) -> int | None:
    if finite is False:
        return None
    if smallest is None or largest is None:  # no nonzero value at all
        return 0
    # Every value is a multiple of 2**ulp, the unit in the last place of the smallest one
    # (of a subnormal one: of the smallest normal double).
    ulp = max(math.frexp(smallest)[1] - 1, _SMALLEST_EXPONENT) - 52
    bits = math.frexp(largest)[1] - ulp + max(rows, 1).bit_length()
    # Past 2**1023 the scale itself is no double (values all below 2**-950 or so).
    return -ulp if bits <= _BITS and -ulp <= _LARGEST_EXPONENT else None


def exact_sum(column: str, scale: int, condition: str) -> str:
    """SQL: the sum (a DOUBLE, null without values) of `column` over the rows matching
    `condition`, added exactly on the grid of 2**-`scale`."""
    up, down = _power_of_two(scale), _power_of_two(-scale)
    return f"(sum(({column} * {up})::HUGEINT) FILTER (WHERE {condition}))::DOUBLE * {down}"


def _power_of_two(exponent: int) -> str:
    return f"{float(2.0**exponent)!r}::DOUBLE"
