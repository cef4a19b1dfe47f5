"""Served vectors as facts: the fact table a model version's sampled inputs are logged to.

The scoring service logs a sample of the inputs each model version is served (what the model
was given, the same columns as its training snapshot) so that `shipyard features drift` can
compare them with what it was trained on. Each model version has a table of its own,
`served.<model>.<version>`, because its columns are its inputs: one per encoded column
(`double` for numeric ones, `string` for the others), plus `served_id` (a random 63-bit id,
the table's entity) and `served_at` (when it was served, the event time).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shipyard.features.fact_schema import FactSchemaError
from shipyard.features.snapshot import ColumnKind, TrainingSnapshot

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.features.facts import FactStore

__all__ = [
    "SERVED_AT",
    "SERVED_ID",
    "declare_served_table",
    "read_served",
    "served_records",
    "served_table",
    "typed_rows",
]

SERVED_ID = "served_id"
SERVED_AT = "served_at"
_TYPES = {ColumnKind.NUMERIC: "double", ColumnKind.CATEGORICAL: "string"}


def served_table(model: str, version: int) -> str:
    """The fact table of the vectors served by `model` version `version`."""
    return f"served.{model}.{version}"


def declare_served_table(
    store: FactStore, model: str, version: int, snapshot: TrainingSnapshot
) -> str:
    """Declare (again: a no-op) the served-vector table of a model version; its name."""
    table = served_table(model, version)
    columns = {profile.name: _TYPES[profile.kind] for profile in snapshot.columns}
    clashes = sorted({SERVED_ID, SERVED_AT} & set(columns))
    if clashes:
        raise FactSchemaError(
            f"{model}/{version} has inputs named {clashes}, which the served-vector table "
            "keeps for itself; rename those features to log served vectors"
        )
    store.table(
        table,
        entity=SERVED_ID,
        event_time=SERVED_AT,
        schema={SERVED_ID: "int64", SERVED_AT: "timestamp", **columns},
    )
    return table


def served_records(frame: pd.DataFrame, positions: Sequence[int]) -> list[dict[str, Any]]:
    """The rows at `positions` of a served frame, as facts stamped now (values as served;
    `typed_rows` converts them when they are written)."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = frame.take(positions).to_dict("records")
    for row in rows:
        row[SERVED_ID] = random.getrandbits(63)
        row[SERVED_AT] = now
    return rows


def typed_rows(
    rows: Sequence[Mapping[str, Any]], snapshot: TrainingSnapshot
) -> list[dict[str, Any]]:
    """`rows` with exactly the table's columns, each value of its column's type: a number
    (or null, for anything that is not one) in a numeric column, text in the others. Served
    values come from JSON or an encoder, so one odd value must not cost its whole batch."""
    typed = []
    for row in rows:
        fact: dict[str, Any] = {SERVED_ID: row[SERVED_ID], SERVED_AT: row[SERVED_AT]}
        for profile in snapshot.columns:
            value = row.get(profile.name)
            if profile.kind is ColumnKind.NUMERIC:
                fact[profile.name] = _number(value)
            else:
                fact[profile.name] = None if _missing(value) else str(value)
        typed.append(fact)
    return typed


def read_served(
    store: FactStore, model: str, version: int, since: datetime | None = None
) -> pd.DataFrame:
    """The vectors served by `model` version `version` (since `since`, if given), one row
    each; an empty frame when none were logged."""
    import pandas as pd

    table = served_table(model, version)
    if table not in {declared.name for declared in store.list_tables()}:
        return pd.DataFrame()
    return store.read(table, start=since)


def _number(value: Any) -> float | None:
    if isinstance(value, bool | int | float):
        return None if value != value else float(value)  # NaN is a missing value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
