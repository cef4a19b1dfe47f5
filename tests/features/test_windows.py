"""Windows are parsed once, at declaration, and bad ones are refused with the accepted forms."""

from __future__ import annotations

import pytest

from shipyard.features import FeatureDefinitionError, Window, parse_window


@pytest.mark.parametrize(
    ("text", "micros"),
    [("90s", 90_000_000), ("15m", 900_000_000), ("12h", 43_200_000_000),
     ("7d", 604_800_000_000), ("2w", 1_209_600_000_000)],
)  # fmt: skip
def test_a_count_and_a_unit_is_a_window_of_that_many_microseconds(text: str, micros: int) -> None:
    assert parse_window(text) == Window(text, micros)


@pytest.mark.parametrize("unbounded", [None, "unbounded"])
def test_none_or_unbounded_is_every_fact_before_the_label(unbounded: str | None) -> None:
    assert parse_window(unbounded).is_unbounded


@pytest.mark.parametrize("bad", ["7", "d", "0d", "-1d", "7days", "1.5h", "7y", ""])
def test_a_bad_window_is_refused_with_the_accepted_forms(bad: str) -> None:
    with pytest.raises(FeatureDefinitionError, match="unit, one of s, m, h, d, w"):
        parse_window(bad)
