"""Python features: a vectorized function over each label's facts, point-in-time correct."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from shipyard import features
from shipyard.features import FeatureDefinitionError, FeatureSet, TrainingFrameError

from .facts_files import PlaysTable, at


def minutes_spread(facts: pd.DataFrame) -> pd.Series:
    return facts.groupby("label")["minutes"].max() - facts.groupby("label")["minutes"].min()


def comedy_share(facts: pd.DataFrame) -> pd.Series:
    return (facts["genre"] == "comedy").groupby(facts["label"]).mean()


@pytest.fixture
def plays(tmp_path: Path) -> PlaysTable:
    table = PlaysTable(tmp_path)
    table.write([(1, at(1), 10.0, "comedy"), (1, at(3), 4.0, "drama"), (1, at(5), 30.0, "comedy"),
                 (2, at(2), 7.0, "drama")], recorded_at=at(6))  # fmt: skip
    return table


def labels() -> pd.DataFrame:
    return pd.DataFrame({
        "member_id": [1, 1, 2, 3, 1],
        "timestamp": [at(5), at(5, micro=1), at(9), at(9), at(9)],
    })  # fmt: skip


def build(*declared: features.PythonFeature | features.Feature, plays: PlaysTable) -> pd.DataFrame:
    fs = FeatureSet("py", entity="member_id", features=list(declared))
    return fs.training_frame(labels(), facts={"plays": plays.scan()}, as_of=at(10))


def _values(series: pd.Series) -> list[float | None]:
    return [None if math.isnan(v) else v for v in series]


def test_a_python_feature_sees_only_the_facts_before_each_label(plays: PlaysTable) -> None:
    frame = build(features.python("plays", minutes_spread), plays=plays)
    # At day 5 exactly, the comedy of day 5 is the future; a microsecond later it is not.
    assert _values(frame["minutes_spread"]) == [6.0, 26.0, 0.0, None, 26.0]


def test_a_python_feature_respects_its_window(plays: PlaysTable) -> None:
    frame = build(features.python("plays", comedy_share, window="5d"), plays=plays)
    # Day 9, five days back: days 4..8, i.e. only the comedy of day 5 (member 1), nothing
    # for member 2.
    assert _values(frame["comedy_share"]) == [0.5, 2 / 3, None, None, 1.0]


def test_partitions_change_how_often_the_function_runs_not_the_answer(plays: PlaysTable) -> None:
    one = build(features.python("plays", minutes_spread), plays=plays)
    many = build(features.python("plays", minutes_spread, partitions=4), plays=plays)
    pd.testing.assert_series_equal(one["minutes_spread"], many["minutes_spread"])


def test_python_and_sql_features_keep_their_declared_order(plays: PlaysTable) -> None:
    frame = build(
        features.count("plays", name="n"), features.python("plays", comedy_share),
        features.last("plays", "minutes", name="last"), plays=plays,
    )  # fmt: skip
    assert list(frame.columns) == ["member_id", "timestamp", "n", "comedy_share", "last"]
    assert frame["n"].tolist() == [2, 3, 1, 0, 3]


def test_the_functions_source_is_part_of_the_version() -> None:
    def spread(facts: pd.DataFrame) -> pd.Series:
        return facts.groupby("label")["minutes"].std()

    def spread_changed(facts: pd.DataFrame) -> pd.Series:
        return facts.groupby("label")["minutes"].var()

    def version(function: features.python) -> str:  # type: ignore[valid-type]
        feature = features.python("plays", function, name="spread")
        return FeatureSet("s", entity="member_id", features=[feature]).version

    assert version(spread) == version(spread)
    assert version(spread) != version(spread_changed)


def test_a_python_feature_must_return_a_series_by_label(plays: PlaysTable) -> None:
    def scalar(facts: pd.DataFrame) -> float:
        return 1.0

    with pytest.raises(TrainingFrameError, match="returned float; return a pandas Series"):
        build(features.python("plays", scalar), plays=plays)  # type: ignore[arg-type]
    shifted = features.python("plays", lambda f: f.groupby("label").size() + 0, name="n")
    frame = build(shifted, plays=plays)
    assert frame["n"].fillna(0).tolist() == [2, 3, 1, 0, 3]


def test_a_lambda_needs_a_name() -> None:
    with pytest.raises(FeatureDefinitionError, match="bad feature name '<lambda>'"):
        features.python("plays", lambda f: f.groupby("label").size())


def test_windows_do_not_reach_past_the_label(plays: PlaysTable) -> None:
    late = at(9) - timedelta(microseconds=1)
    plays.write([(3, late, 1.0, "comedy"), (3, at(9), 99.0, "comedy")], recorded_at=at(9))
    frame = build(features.python("plays", minutes_spread), plays=plays)
    assert _values(frame["minutes_spread"])[3] == 0.0
