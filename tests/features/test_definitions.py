"""Feature definitions are checked where they are written."""

from __future__ import annotations

import pytest

from shipyard import features
from shipyard.features import Aggregation, FeatureDefinitionError

from .facts_files import PLAYS_SCHEMA


def test_a_feature_gets_a_name_from_its_table_column_aggregation_and_window() -> None:
    feature = features.mean("plays", "minutes", window="30d")
    assert feature.name == "plays_minutes_mean_30d"
    assert feature.aggregation is Aggregation.MEAN
    assert features.count("plays").name == "plays_facts_count_unbounded"


def test_an_unknown_aggregation_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        FeatureDefinitionError, match=r"unknown aggregation 'median'.*count_distinct"
    ):
        features.aggregate("median", "plays", "minutes")


def test_only_count_may_omit_the_column() -> None:
    with pytest.raises(FeatureDefinitionError, match="mean needs a column of 'plays'"):
        features.aggregate("mean", "plays")


def test_an_unknown_column_is_refused_when_the_schema_is_known() -> None:
    with pytest.raises(FeatureDefinitionError, match=r"no column 'minuets'.*genre, member_id"):
        features.sum("plays", "minuets", schema=PLAYS_SCHEMA)


def test_numbers_are_not_asked_of_a_string_column() -> None:
    with pytest.raises(FeatureDefinitionError, match=r"mean needs a numeric column.*string"):
        features.mean("plays", "genre", schema=PLAYS_SCHEMA)
    assert features.count_distinct("plays", "genre", schema=PLAYS_SCHEMA).column == "genre"


@pytest.mark.parametrize("where", ["", "  ", "genre = 'x'; DROP TABLE plays"])
def test_a_filter_must_be_one_expression(where: str) -> None:
    with pytest.raises(FeatureDefinitionError, match="one SQL boolean expression"):
        features.count("plays", where=where)


@pytest.mark.parametrize("name", ["1st", "has space", "__row"])
def test_a_feature_name_must_make_a_column_name(name: str) -> None:
    with pytest.raises(FeatureDefinitionError, match="bad feature name"):
        features.last("plays", "minutes", name=name)


def test_a_filter_on_an_unknown_column_is_refused_when_the_schema_is_known() -> None:
    with pytest.raises(FeatureDefinitionError, match=r"feature 'comedies': where=\"genr = 'x'\""):
        features.count("plays", where="genr = 'x'", name="comedies", schema=PLAYS_SCHEMA)
    assert features.count("plays", where="genre = 'x'", schema=PLAYS_SCHEMA).where == "genre = 'x'"
