"""Allocation: deterministic, uniform, independent between salts, layers exclusive, holdouts
nested; bad shares refused with what is wrong."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from shipyard.experiments.allocation import (
    Allocation,
    AllocationError,
    free_offset,
    unit_hash,
)

UNITS = [f"member-{i}" for i in range(100_000)]


def test_the_same_units_get_the_same_cells_in_another_process() -> None:
    allocation = Allocation("ranker-v4", {"control": 0.5, "treatment": 0.5}, holdout=0.1)
    units = UNITS[:2000]
    script = (
        "import json, sys\n"
        "from shipyard.experiments.allocation import Allocation\n"
        "a = Allocation('ranker-v4', {'control': 0.5, 'treatment': 0.5}, holdout=0.1)\n"
        "print(json.dumps(a.assign_many(json.load(sys.stdin))))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(units),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(other.stdout) == allocation.assign_many(units)


def test_the_hash_is_fixed_forever() -> None:
    # A stored experiment must assign the same way after any upgrade: these are pinned.
    assert unit_hash("salt", 7) == unit_hash("salt", "7")
    assert unit_hash("salt", "7") == int.from_bytes(
        hashlib.blake2b(b"salt\x007", digest_size=8).digest(), "big"
    )


def test_assignment_is_uniform_over_the_allocation() -> None:
    shares = {"control": 0.5, "a": 0.3, "b": 0.2}
    counts = Counter(Allocation("uniform", shares).assign_many(UNITS))
    observed = [counts[cell] for cell in shares]
    expected = [share * len(UNITS) for share in shares.values()]
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_experiments_with_different_salts_assign_independently() -> None:
    first = Allocation("first", {"control": 0.5, "treatment": 0.5}).assign_many(UNITS)
    second = Allocation("second", {"control": 0.5, "treatment": 0.5}).assign_many(UNITS)
    table = np.zeros((2, 2))
    for x, y in zip(first, second, strict=True):
        table[x == "control", y == "control"] += 1
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_experiments_of_one_layer_never_share_a_unit() -> None:
    left = Allocation("left", {"control": 0.5, "t": 0.5}, layer="ranking", traffic=0.4)
    right = Allocation(
        "right", {"control": 0.5, "t": 0.5}, layer="ranking", traffic=0.6, offset=0.4
    )
    in_left = {u for u, cell in zip(UNITS, left.assign_many(UNITS), strict=True) if cell}
    in_right = {u for u, cell in zip(UNITS, right.assign_many(UNITS), strict=True) if cell}
    assert not in_left & in_right
    assert len(in_left | in_right) == len(UNITS)  # the layer's traffic is split, all of it
    assert abs(len(in_left) / len(UNITS) - 0.4) < 0.01


def test_a_holdout_sees_no_experiment_and_holdouts_nest() -> None:
    small = Allocation("one", {"control": 1.0}, holdout=0.05).assign_many(UNITS)
    large = Allocation("two", {"control": 1.0}, holdout=0.10).assign_many(UNITS)
    held_small = {u for u, cell in zip(UNITS, small, strict=True) if cell is None}
    held_large = {u for u, cell in zip(UNITS, large, strict=True) if cell is None}
    assert abs(len(held_large) / len(UNITS) - 0.10) < 0.005
    assert held_small <= held_large


def test_partial_traffic_outside_a_layer_takes_that_share() -> None:
    cells = Allocation("partial", {"control": 0.5, "t": 0.5}, traffic=0.2).assign_many(UNITS)
    assert abs(sum(cell is not None for cell in cells) / len(UNITS) - 0.2) < 0.005


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"control": 0.5, "treatment": 0.6}, "must sum to 1, but control=0.5, treatment=0.6"),
        ({}, "at least one cell"),
        ({"control": 1.5, "treatment": -0.5}, "share of cell 'control' must be a number in"),
        ({"control": float("nan"), "t": 1.0}, "must be a number"),
    ],
)
def test_shares_that_are_not_an_allocation_are_refused(
    cells: dict[str, float], message: str
) -> None:
    with pytest.raises(AllocationError, match=message):
        Allocation("bad", cells)


def test_a_slice_must_fit_in_its_layer() -> None:
    with pytest.raises(AllocationError, match="does not fit in the layer"):
        Allocation("x", {"c": 1.0}, layer="l", traffic=0.6, offset=0.5)


def test_free_offset_finds_the_lowest_gap_that_fits() -> None:
    assert free_offset([], 0.5) == 0.0
    assert free_offset([(0.0, 0.3)], 0.5) == 0.3
    assert free_offset([(0.0, 0.3), (0.5, 0.5)], 0.2) == 0.3
    assert free_offset([(0.0, 0.3), (0.5, 0.5)], 0.3) is None
