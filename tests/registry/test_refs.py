"""Specification of model references: `name`, `name/3`, `name@alias`."""

from __future__ import annotations

import pytest

from shipyard.registry import ModelRef


def test_a_bare_name_means_the_newest_version() -> None:
    assert ModelRef.parse("ranker") == ModelRef("ranker")


def test_a_number_after_a_slash_is_a_version() -> None:
    ref = ModelRef.parse("ranker/3")
    assert (ref.name, ref.version, ref.alias) == ("ranker", 3, None)
    assert str(ref) == "ranker/3"


def test_a_name_after_an_at_sign_is_an_alias() -> None:
    ref = ModelRef.parse("ranker@production")
    assert (ref.name, ref.version, ref.alias) == ("ranker", None, "production")
    assert str(ref) == "ranker@production"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a model reference"),
        ("ranker/", "must be a version number"),
        ("ranker/latest", "must be a version number"),
        ("ranker/0", "versions start at 1"),
        ("ranker@", "not a model reference"),
        ("@production", "not a model reference"),
        ("ranker@a@b", "not a model reference"),
        ("ranker/3@production", "not a model reference"),
        ("my ranker", "invalid model name"),
        ("ranker@3", "an alias cannot be a number"),
    ],
)
def test_malformed_references_say_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelRef.parse(text)


@pytest.mark.parametrize("name", ["ok\n", "ok\r\n", "\nok", "ok\t"])
def test_a_name_must_match_as_a_whole_not_up_to_a_trailing_newline(name: str) -> None:
    with pytest.raises(ValueError, match="invalid model name"):
        ModelRef(name)
    with pytest.raises(ValueError, match="invalid alias"):
        ModelRef("ranker", alias=name)
