"""Reads and compaction cross-checked against an obviously correct reference on random data:
per (entity, event time), the version of the latest batch recorded at or before `as_of`."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from shipyard.features.fact_files import FactFiles
from shipyard.features.facts import FactStore
from shipyard.metadata import open_metadata

DAY = datetime(2026, 1, 1, tzinfo=UTC)
Key = tuple[int, datetime]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FactStore]:
    root = tmp_path / "store"
    with open_metadata(f"sqlite:///{root / 'metadata.db'}") as metadata:
        facts = FactStore(metadata.facts, FactFiles(str(root)), user="alice")
        facts.table(
            "plays",
            entity="member_id",
            event_time="ts",
            schema={"member_id": "int", "ts": "timestamp", "seconds": "float"},
        )
        yield facts


def reference(
    batches: list[tuple[datetime, dict[Key, float]]],
    as_of: datetime | None,
    entities: set[int] | None,
    start: datetime | None,
    end: datetime | None,
) -> list[tuple[int, datetime, float]]:
    """The slow, plain definition: replay the batches recorded by `as_of` in order."""
    visible: dict[Key, float] = {}
    for recorded_at, rows in batches:
        if as_of is None or recorded_at <= as_of:
            visible.update(rows)
    return sorted(
        (entity, ts, value)
        for (entity, ts), value in visible.items()
        if (entities is None or entity in entities)
        and (start is None or ts >= start)
        and (end is None or ts < end)
    )


def answer(frame: pd.DataFrame) -> list[tuple[int, datetime, float]]:
    return [
        (int(m), t.to_pydatetime(), float(s))
        for m, t, s in zip(frame.member_id, frame.ts, frame.seconds, strict=True)
    ]


@pytest.mark.parametrize("seed", range(6))
def test_reads_match_the_reference_before_and_after_compaction(store: FactStore, seed: int) -> None:
    rng = random.Random(seed)
    keys = [(entity, DAY + timedelta(hours=hour)) for entity in range(8) for hour in range(6)]
    batches: list[tuple[datetime, dict[Key, float]]] = []
    for _ in range(rng.randint(2, 6)):
        rows = {key: float(rng.randint(0, 99)) for key in rng.sample(keys, rng.randint(1, 20))}
        frame = pd.DataFrame(
            [(e, t, v) for (e, t), v in rows.items()], columns=["member_id", "ts", "seconds"]
        )
        written = store.ingest("plays", frame)
        assert written is not None
        batches.append((written.recorded_at, rows))

    moments: list[datetime | None] = [None]
    for recorded_at, _ in batches:
        moments += [recorded_at, recorded_at - timedelta(microseconds=1)]
    queries = [
        (
            rng.choice(moments),
            set(rng.sample(range(9), rng.randint(1, 4))) if rng.random() < 0.6 else None,
            DAY + timedelta(hours=rng.randint(0, 3)) if rng.random() < 0.5 else None,
            DAY + timedelta(hours=rng.randint(2, 6)) if rng.random() < 0.5 else None,
        )
        for _ in range(12)
    ] + [(moment, None, None, None) for moment in moments]

    def check() -> None:
        for as_of, entities, start, end in queries:
            read = store.read(
                "plays",
                None if entities is None else sorted(entities),
                start=start,
                end=end,
                as_of=as_of,
            )
            expected = reference(batches, as_of, entities, start, end)
            assert answer(read) == expected, (as_of, entities, start, end)

    check()
    store.compact("plays")
    check()
