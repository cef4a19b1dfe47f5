"""Python features: the escape hatch for what SQL cannot say, still vectorized.

A Python feature is a function over a `pandas.DataFrame` holding, for a set of entities, one
row per (label, fact inside that label's window): the column `label` (the label row's
position), `label_time`, and the fact table's columns. Point-in-time correctness is
Shipyard's part (the same facts, `as_of` and restatement rules as every SQL feature); the
function returns one value per label as a `pandas.Series` indexed by `label`, e.g.
`lambda facts: facts.groupby("label")["minutes"].std()`. Labels it leaves out (no facts in
their window) get null. The function runs once per entity partition, on whole columns: no
Python runs per row unless the function itself loops.

The function's source code is part of the feature's definition, so editing it makes a new
feature set version.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.features.definitions import check_feature_name
from shipyard.features.errors import FeatureDefinitionError, TrainingFrameError
from shipyard.features.windows import Window, parse_window

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PythonFeature", "python"]

FeatureFunction = Callable[["pd.DataFrame"], "pd.Series"]


@dataclass(frozen=True)
class PythonFeature:
    """A feature computed by `function` from the facts of `table` in each label's window."""

    name: str
    table: str
    function: FeatureFunction = field(compare=False)
    window: Window
    source: str
    #: How many entity partitions the facts are handed over in (bounds the memory a call needs).
    partitions: int = 1

    def definition(self) -> dict[str, Any]:
        return {
            "kind": "python",
            "name": self.name,
            "table": self.table,
            "window": self.window.text,
            "source": self.source,
        }

    def check_schema(self, schema: Mapping[str, str]) -> None:
        """Every column of the table reaches the function; nothing to check."""

    def compute(self, facts: pd.DataFrame, labels: int) -> pd.Series:
        """The function's answer for one partition, checked to be a Series over labels."""
        import pandas as pd

        result = self.function(facts)
        if not isinstance(result, pd.Series):
            raise TrainingFrameError(
                f"Python feature {self.name!r} returned {type(result).__name__}; return a "
                "pandas Series indexed by the `label` column (e.g. facts.groupby('label')[...])"
            )
        stray = result.index.difference(pd.RangeIndex(labels))
        if len(stray):
            raise TrainingFrameError(
                f"Python feature {self.name!r} returned values for labels that do not exist "
                f"({list(stray[:5])}); index the result by the `label` column"
            )
        return result


def python(
    table: str,
    function: FeatureFunction,
    *,
    name: str | None = None,
    window: str | Window | None = None,
    partitions: int = 1,
) -> PythonFeature:
    """Declare a Python feature over `table` (see the module's docstring for the contract)."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise FeatureDefinitionError(
            f"the Python feature function {function!r} has no source code to version; define "
            "it in a file (not in an interactive session)"
        ) from exc
    if partitions < 1:
        raise FeatureDefinitionError(f"partitions={partitions}: use 1 or more")
    feature_name = name or str(getattr(function, "__name__", ""))
    check_feature_name(feature_name)
    return PythonFeature(feature_name, table, function, parse_window(window), source, partitions)
