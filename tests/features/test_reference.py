"""Training frames agree with a slow, obviously-correct reference on randomized facts.

The reference below is the definition written out in plain Python: resolve restatements per
(entity, event time) to the latest version recorded at or before `as_of`, then for every label
and feature take the facts of the label's entity with `t - window <= event_time < t` that
match the filter, and aggregate them. Hypothesis draws small tables full of edge cases
(facts a microsecond from a label or a window's start, restatements, late facts, nulls).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipyard import features
from shipyard.features import Feature, FeatureSet

from .facts_files import PlaysTable, at

Row = tuple[int, datetime, float | None, str | None]
ORIGIN = at(1)
WINDOWS = {"1h": timedelta(hours=1), "3h": timedelta(hours=3), None: None}
FILTERS: dict[str | None, Callable[[Row], bool]] = {
    None: lambda row: True,
    "genre = 'a'": lambda row: row[3] == "a",
}
FEATURES = [
    getattr(features, kind)("plays", column, window=window, where=where,
                            name=f"f{n}_{kind}_{column}_{n_w}_{n_f}")
    for n, (kind, column) in enumerate([
        ("last", "minutes"), ("last", "genre"), ("count", None), ("count", "minutes"),
        ("sum", "minutes"), ("mean", "minutes"), ("min", "minutes"), ("max", "genre"),
        ("count_distinct", "genre"),
    ])
    for n_w, window in enumerate(WINDOWS)
    for n_f, where in enumerate(FILTERS)
]  # fmt: skip


def minutes_sum(facts: pd.DataFrame) -> pd.Series:
    return facts.groupby("label")["minutes"].sum(min_count=1)


# A Python feature, checked against the reference of the SQL feature it re-implements.
PYTHON_FEATURES = {
    features.python("plays", minutes_sum, window="3h", partitions=2): features.sum(
        "plays", "minutes", window="3h"
    ),
}

# Times on a coarse grid (so facts restate each other and meet labels and window starts)
# nudged by a microsecond either way.
moments = st.builds(
    lambda hours, micro: ORIGIN + timedelta(hours=hours, microseconds=micro),
    st.integers(0, 5), st.sampled_from([0, 1, -1]),
)  # fmt: skip
fact_rows = st.tuples(
    st.integers(0, 1), moments,
    st.one_of(st.none(), st.integers(-5, 5).map(float)),
    st.sampled_from([None, "a", "b"]),
)  # fmt: skip
batches = st.lists(st.tuples(st.lists(fact_rows, max_size=12), st.integers(0, 6)), max_size=4)
label_rows = st.lists(st.tuples(st.integers(0, 2), moments), min_size=1, max_size=12)


def reference(
    batches: list[tuple[list[Row], datetime]], labels: list[tuple[int, datetime]],
    feature: Feature, as_of: datetime,
) -> list[Any]:  # fmt: skip
    latest: dict[tuple[int, datetime], tuple[tuple[datetime, int, int], Row]] = {}
    for batch_index, (rows, recorded_at) in enumerate(batches):
        if recorded_at > as_of:
            continue
        for row_index, row in enumerate(rows):
            version = (recorded_at, batch_index, row_index)
            key = (row[0], row[1])
            if key not in latest or latest[key][0] < version:
                latest[key] = (version, row)
    facts = sorted((row for _, row in latest.values()), key=lambda row: row[1])
    window = WINDOWS[feature.window.text if not feature.window.is_unbounded else None]
    matches = FILTERS[feature.where]
    column = {"minutes": 2, "genre": 3, None: None}[feature.column]
    answers = []
    for entity, moment in labels:
        seen = [
            row for row in facts
            if row[0] == entity and row[1] < moment
            and (window is None or row[1] >= moment - window) and matches(row)
        ]  # fmt: skip
        answers.append(_aggregate(feature.aggregation.value, seen, column))
    return answers


def _aggregate(kind: str, rows: list[Row], column: int | None) -> Any:
    if kind == "count" and column is None:
        return len(rows)
    assert column is not None
    values = [row[column] for row in rows if row[column] is not None]
    if kind == "last":
        return rows[-1][column] if rows else None
    if kind == "count":
        return len(values)
    if kind == "count_distinct":
        return len(set(values))
    if not values:
        return None
    return {"sum": sum, "min": min, "max": max, "mean": lambda v: sum(v) / len(v)}[kind](values)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=batches, labels=label_rows, as_of_day=st.integers(0, 7))
def test_training_frames_match_the_reference_on_random_facts(
    batches: list[tuple[list[Row], int]], labels: list[tuple[int, datetime]], as_of_day: int
) -> None:
    recorded = [(rows, at(2) + timedelta(days=day)) for rows, day in batches]
    as_of = at(2) + timedelta(days=as_of_day)
    with tempfile.TemporaryDirectory() as folder:
        plays = PlaysTable(Path(folder))
        for rows, recorded_at in recorded:
            plays.write(rows, recorded_at=recorded_at)
        fs = FeatureSet("ref", entity="member_id", features=[*FEATURES, *PYTHON_FEATURES])
        frame = fs.training_frame(
            pd.DataFrame(labels, columns=["member_id", "timestamp"]),
            facts={"plays": plays.scan()}, as_of=as_of,
        )  # fmt: skip
    mismatches = []
    checks = [(f, f) for f in FEATURES] + [(p, f) for p, f in PYTHON_FEATURES.items()]
    for feature, meaning in checks:
        expected = reference(recorded, labels, meaning, as_of)
        actual = [_plain(v) for v in frame[feature.name].tolist()]
        for row, (want, got) in enumerate(zip(expected, actual, strict=True)):
            same = want == got or (
                isinstance(want, float) and got is not None and math.isclose(want, got)
            )
            if not same:
                mismatches.append((feature.name, row, want, got))
    assert mismatches == []
