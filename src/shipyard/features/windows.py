"""Windows: how far back from a label's timestamp a feature looks.

A window is written as a count and a unit (`"90s"`, `"15m"`, `"12h"`, `"7d"`, `"2w"`) or is
unbounded (`None` or `"unbounded"`). A feature over the window `w` for a label at time `t`
sees the facts with `t - w <= event_time < t`: the start is inside, the label's own instant
never is (a fact at exactly `t` is the future as far as the label knows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.features.errors import FeatureDefinitionError

__all__ = ["UNBOUNDED", "Window", "parse_window"]

_UNIT_MICROS = {
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 7 * 86_400_000_000,
}
_WINDOW = re.compile(r"([1-9][0-9]*)([smhdw])")


@dataclass(frozen=True)
class Window:
    """A look-back span in microseconds (None: unbounded), kept with the text it came from."""

    text: str
    micros: int | None

    @property
    def is_unbounded(self) -> bool:
        return self.micros is None


UNBOUNDED = Window("unbounded", None)


def parse_window(window: str | Window | None) -> Window:
    """The `Window` a declaration names; refuses anything else with the accepted forms."""
    if isinstance(window, Window):
        return window
    if window is None or window == UNBOUNDED.text:
        return UNBOUNDED
    match = _WINDOW.fullmatch(window.strip()) if isinstance(window, str) else None
    if match is None:
        raise FeatureDefinitionError(
            f"bad window {window!r}: write a positive count and a unit, one of s, m, h, d, w "
            "(e.g. '12h', '7d', '30d'), or None / 'unbounded' for all facts before the label"
        )
    count, unit = match.groups()
    return Window(f"{count}{unit}", int(count) * _UNIT_MICROS[unit])
