"""Specification of `facts.log`: rows are buffered and written in batches, when the buffer is
full, when the oldest row has waited the interval, and when the process shuts down cleanly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import facts
from shipyard.metadata.fact_records import BatchState

from ..conftest import Home
from ..waiting import wait_for

SCHEMA = {"member_id": "int", "ts": "timestamp", "seconds": "float"}


@pytest.fixture(autouse=True)
def plays(home: Home) -> None:
    facts.table("plays", entity="member_id", event_time="ts", schema=SCHEMA)


def row(n: int) -> dict[str, object]:
    return {
        "member_id": n,
        "ts": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n),
        "seconds": n,
    }


def batches() -> list[int]:
    return [b.row_count for b in facts.store().catalogue.list_batches("plays", states=BatchState)]


def test_a_full_buffer_is_written_as_one_batch() -> None:
    with facts.logger("plays", batch_size=3, interval=60) as log:
        log.log(row(1))
        log.log(row(2))
        assert (log.pending, batches()) == (2, [])
        log.log(row(3))
        assert (log.pending, batches()) == (0, [3])
        log.log(row(4))
    assert batches() == [3, 1]  # leaving the block flushed the rest
    assert list(facts.read("plays").member_id) == [1, 2, 3, 4]


def test_rows_are_written_once_the_oldest_has_waited_the_interval() -> None:
    with facts.logger("plays", batch_size=1000, interval=0.2) as log:
        began = time.monotonic()
        log.log(row(1))
        log.log(row(2))
        wait_for(lambda: batches() == [2], timeout=10, what="the interval's flush")
        assert time.monotonic() - began >= 0.2


def test_a_refused_write_is_reported_by_the_next_call_and_the_log_goes_on() -> None:
    log = facts.logger("plays", batch_size=10, interval=60)
    log.log({**row(1), "seconds": "long"})
    with pytest.raises(facts.FactSchemaError, match="column 'seconds', row 0: value 'long'"):
        log.flush()
    log.log(row(2))
    log.close()
    assert list(facts.read("plays").member_id) == [2]


def test_a_clean_exit_flushes_what_is_buffered(home: Home) -> None:
    script = textwrap.dedent(
        """
        from datetime import UTC, datetime
        from shipyard import facts

        for n in range(5):
            ts = datetime(2026, 1, 2, tzinfo=UTC)
            facts.log("plays", {"member_id": n, "ts": ts, "seconds": n})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=home.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert batches() == [5]
    assert list(facts.read("plays").seconds) == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_step_s_logged_facts_are_written_when_the_step_ends(home: Home) -> None:
    flow = Path(__file__).parent / "flows" / "log_facts_flow.py"
    done = home.run_flow(flow, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(facts.read("plays").member_id) == [0, 1, 2, 3, 4]
