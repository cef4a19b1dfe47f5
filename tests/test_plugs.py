"""Plugs: a lower package calls what a package above it installed."""

from __future__ import annotations

import pytest

from shipyard.exceptions import ShipyardError
from shipyard.plugs import Plug


def test_a_plug_calls_the_function_installed_last() -> None:
    double: Plug[[int], int] = Plug("doubling")
    double.install(lambda n: n + n + 1)
    double.install(lambda n: n * 2)
    assert double(21) == 42


def test_a_plug_with_nothing_installed_says_what_is_missing() -> None:
    with pytest.raises(ShipyardError, match="nothing provides the answer"):
        Plug[[], int]("the answer")()
