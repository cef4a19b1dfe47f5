"""Allocation: which cell of an experiment a unit (a member, a session) is in. Pure: no I/O.

A unit's place is a 64-bit hash of (salt, unit id): blake2b, so it is the same in every
process, on every machine and after every restart, uniform, and independent between salts.
Three hashes, each with its own salt, decide in turn:

1. the **holdout**: units whose hash under the one global holdout salt falls below the
   experiment's `holdout` share see no experiment. Every experiment uses the same salt, so
   holdouts nest: a unit held out of a 5% holdout is held out of every larger one, and
   experiments that all set the same share share one global holdout;
2. the **layer**: the experiments of one layer split its traffic, each owning a slice
   `[offset, offset + traffic)` of the layer's hash, so a unit is in at most one of them. An
   experiment outside any layer is alone in a layer of its own (its salt), from offset 0;
3. the **cell**: the hash under the experiment's salt, against the cumulative allocation.

Shares become integer thresholds once, when the allocation is built, so that assigning a unit
costs one hash and one bisect (plus one hash per holdout and per partial layer).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import blake2b

__all__ = [
    "HASH_SPACE",
    "HOLDOUT_SALT",
    "Allocation",
    "AllocationError",
    "check_shares",
    "free_offset",
    "layer_salt",
    "unit_hash",
]

#: Hashes are integers in [0, HASH_SPACE).
HASH_SPACE = 1 << 64
#: The salt of the holdout hash, shared by every experiment (see the module docstring).
HOLDOUT_SALT = "shipyard:holdout"
#: How close to 1 the shares of the cells must add up.
_TOLERANCE = 1e-9


class AllocationError(ValueError):
    """Shares that do not describe an allocation; the message says which and why."""


def layer_salt(layer: str) -> str:
    """The salt of the position hash of every experiment in `layer`."""
    return f"shipyard:layer:{layer}"


def _hasher(salt: str) -> blake2b:
    # The salt ends with a NUL byte, which no unit id's UTF-8 contains: ("a", "bc") and
    # ("ab", "c") never hash alike.
    return blake2b(salt.encode() + b"\x00", digest_size=8)


def unit_hash(salt: str, unit: object) -> int:
    """The 64-bit hash of `unit` (its `str`) under `salt`: the same everywhere, always."""
    hasher = _hasher(salt)
    hasher.update(str(unit).encode())
    return int.from_bytes(hasher.digest(), "big")


def _threshold(share: float) -> int:
    return min(HASH_SPACE, max(0, round(share * HASH_SPACE)))


@dataclass(frozen=True)
class _Gate:
    """A hash that must fall in [low, high) for the unit to take part."""

    salt: str
    low: int
    high: int


class Allocation:
    """The compiled allocation of one experiment: `assign(unit)` returns the unit's cell, or
    None when the holdout or the layer keeps it out.

    `cells` maps each cell to its share (summing to 1); `traffic` is the share of its layer
    the experiment takes, from `offset`; `layer` None puts it alone in a layer of its own.
    """

    def __init__(
        self,
        salt: str,
        cells: Mapping[str, float],
        *,
        holdout: float = 0.0,
        layer: str | None = None,
        traffic: float = 1.0,
        offset: float = 0.0,
    ) -> None:
        check_shares(cells)
        _check_share("holdout", holdout, allow_one=False)
        _check_share("traffic", traffic, allow_zero=False)
        _check_share("offset", offset, allow_one=False)
        if offset + traffic > 1 + _TOLERANCE:
            raise AllocationError(
                f"a slice of traffic {traffic:g} from offset {offset:g} does not fit in the layer"
            )
        self.salt = salt
        self.cells = dict(cells)
        self.holdout = holdout
        self.layer = layer
        self.traffic = traffic
        self.offset = offset
        self._names = list(cells)
        cumulative = 0.0
        thresholds = []
        for share in cells.values():
            cumulative += share
            thresholds.append(_threshold(cumulative))
        thresholds[-1] = HASH_SPACE  # rounding must not leave the top of the space unassigned
        self._thresholds = thresholds
        self._cell_hasher = _hasher(salt)
        gates = []
        if holdout > 0:
            gates.append(_Gate(HOLDOUT_SALT, _threshold(holdout), HASH_SPACE))
        if traffic < 1 or layer is not None:
            position_salt = salt if layer is None else layer_salt(layer)
            low = _threshold(offset)
            gates.append(_Gate(position_salt, low, min(HASH_SPACE, low + _threshold(traffic))))
        self._gates = tuple((_hasher(gate.salt), gate.low, gate.high) for gate in gates)

    def assign(self, unit: object) -> str | None:
        """The cell of `unit` (compared as `str(unit)`), or None if it is not in the
        experiment."""
        key = str(unit).encode()
        for hasher, low, high in self._gates:
            gate = hasher.copy()
            gate.update(key)
            if not low <= int.from_bytes(gate.digest(), "big") < high:
                return None
        cell = self._cell_hasher.copy()
        cell.update(key)
        return self._names[bisect_right(self._thresholds, int.from_bytes(cell.digest(), "big"))]

    def assign_many(self, units: Iterable[object]) -> list[str | None]:
        """`assign` of each of `units`, in order."""
        assign = self.assign
        return [assign(unit) for unit in units]

    def __repr__(self) -> str:
        where = f"layer {self.layer!r}" if self.layer else "its own layer"
        return (
            f"Allocation({self.cells}, holdout={self.holdout:g}, traffic={self.traffic:g} of "
            f"{where} from {self.offset:g})"
        )


def check_shares(cells: Mapping[str, float]) -> None:
    """Refuse cell shares that are not an allocation: none, negative, or not summing to 1."""
    if not cells:
        raise AllocationError("an experiment needs at least one cell")
    for name, share in cells.items():
        _check_share(f"the share of cell {name!r}", share, allow_zero=False)
    total = math.fsum(cells.values())
    if abs(total - 1) > _TOLERANCE:
        listing = ", ".join(f"{name}={share:g}" for name, share in cells.items())
        raise AllocationError(
            f"the allocation must sum to 1, but {listing} sums to {total:g}; give each cell "
            "its share of the experiment's units"
        )


def _check_share(
    what: str, share: float, *, allow_zero: bool = True, allow_one: bool = True
) -> None:
    low_ok = share >= 0 if allow_zero else share > 0
    high_ok = share <= 1 if allow_one else share < 1
    if (
        isinstance(share, bool)
        or not isinstance(share, int | float)
        or not math.isfinite(share)
        or not (low_ok and high_ok)
    ):
        low = "[0" if allow_zero else "(0"
        high = "1]" if allow_one else "1)"
        raise AllocationError(f"{what} must be a number in {low}, {high}, not {share!r}")


def free_offset(taken: Sequence[tuple[float, float]], traffic: float) -> float | None:
    """The lowest offset where a slice of `traffic` fits beside the (offset, traffic) slices
    `taken` in a layer, or None if none does."""
    start = 0.0
    for offset, size in sorted(taken):
        if offset - start >= traffic - _TOLERANCE:
            return start
        start = max(start, offset + size)
    return start if 1 - start >= traffic - _TOLERANCE else None
