"""`shipyard facts ...` against a real store: list, describe, head, compact, and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from click.testing import CliRunner, Result

from shipyard import facts
from shipyard.cli.main import cli

from ..conftest import Home


def shipyard(*args: str) -> Result:
    return CliRunner().invoke(cli, ["facts", *args], env={"COLUMNS": "200"})


def declare_and_write(batches: int) -> None:
    facts.table(
        "plays",
        entity="member_id",
        event_time="ts",
        schema={"member_id": "int", "ts": "timestamp", "seconds": "float"},
    )
    day = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(batches):
        frame = pd.DataFrame(
            {"member_id": [n, n + 10], "ts": [day + timedelta(days=n)] * 2, "seconds": [n, n]}
        )
        facts.ingest("plays", frame)


def test_list_says_when_there_is_no_table(home: Home) -> None:
    result = shipyard("list")
    assert result.exit_code == 0, result.output
    assert "no fact table is declared yet" in result.stdout


def test_list_describe_and_head_show_the_table(home: Home) -> None:
    declare_and_write(3)

    listed = shipyard("list")
    assert listed.exit_code == 0, listed.output
    assert "plays" in listed.stdout and "member_id" in listed.stdout
    assert "6" in listed.stdout.split("plays", 1)[1].splitlines()[0]

    described = shipyard("describe", "plays")
    assert described.exit_code == 0, described.output
    for part in ("6 in 3 batches", "timestamp[us, tz=UTC]", "event time", "by tester"):
        assert part in described.stdout

    head = shipyard("head", "plays", "-n", "2")
    assert head.exit_code == 0, head.output
    assert "recorded_at" in head.stdout
    assert "2026-01-01 00:00:00+00:00" in head.stdout
    assert "2 of 6 facts" in head.stdout


def test_compact_merges_and_reports(home: Home) -> None:
    declare_and_write(3)
    before = facts.read("plays")
    result = shipyard("compact", "plays")
    assert result.exit_code == 0, result.output
    assert "plays: merged 3 batches (6 facts, 6 files) into batch 4" in result.stdout
    assert facts.read("plays").equals(before)
    again = shipyard("compact", "plays")
    assert "fewer than two small batches, nothing to merge" in again.stdout


def test_an_unknown_table_is_one_line_on_stderr(home: Home) -> None:
    declare_and_write(1)
    result = shipyard("describe", "clicks")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: fact table 'clicks' is not declared; declared tables: plays (declare one with "
        "facts.table(name, entity=..., event_time=..., schema=...))"
    ]


def test_refresh_registers_a_new_export(home: Home) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    exports = home.root / "exports"
    exports.mkdir()
    day = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(2):
        pq.write_table(pa.table({"id": [n], "ts": [day]}), exports / f"{n}.parquet")
        if n == 0:
            facts.table(
                "orders",
                entity="id",
                event_time="ts",
                schema={"id": "int", "ts": "timestamp"},
                location=str(exports / "*.parquet"),
            )
    result = shipyard("refresh", "orders")
    assert result.exit_code == 0, result.output
    assert "orders: registered 1 files (1 facts) as batch 2, recorded at 20" in result.stdout
    assert "orders: no new file" in shipyard("refresh", "orders").stdout
    refused = shipyard("compact", "orders")
    assert refused.exit_code == 1
    assert "is external" in refused.stderr


def test_abort_reports_what_it_gave_up_and_refuses_a_bad_age(home: Home) -> None:
    declare_and_write(1)
    result = shipyard("abort", "plays", "--older-than", "2h")
    assert result.exit_code == 0, result.output
    assert "plays: no write begun over 2h ago is unfinished" in result.stdout
    refused = shipyard("abort", "plays", "--older-than", "soon")
    assert refused.exit_code == 2
    assert "'soon': write a positive count and a unit, e.g. 90s, 30m, 1h, 2d" in refused.output
