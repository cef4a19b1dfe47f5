"""Online features: single-entity lookups and materialization, side by side with Feast.

One sandbox, 10,000 members x 100 facts (1,000,000 facts, three numeric columns):

- `online_job.py` (Shipyard, one process): a feature set of `last` of each column plus
  `count` and `mean` over 30 days with fitted encoders, materialized into SQLite in full, then
  incrementally after 1% of the members got a new fact; then single-entity lookups with the
  encoders applied (what the scoring server does per request) from SQLite and from a Redis
  server on 127.0.0.1, p50 and p99 of 2,000 lookups after 200 warm-up ones;
- `peers/feast_online.py` (Feast, from `.venv-feast`): the same `last` values on Feast's
  SQLite online store, `get_online_features` for one entity at a time, timed the same way.

Each side reports its own figures (the work alone, not the process start-up).
"""

from __future__ import annotations

import json

from benchmarks.goals import Figure, judge, ratio
from benchmarks.harness import (
    BENCH_DIR,
    PEERS_DIR,
    Measurement,
    Options,
    Sandbox,
    leftovers,
    python,
)
from benchmarks.report import BenchmarkResult, Row, format_value

NAME = "online"
TITLE = "Online features: lookups (SQLite, Redis, Feast) and materialization (10k entities)"
FEAST_VENV = BENCH_DIR.parent / ".venv-feast"
TIMEOUT = 900.0
LOOKUPS, WARM_UP = 2_000, 200
REDIS_GOAL_MS = 1.0
INCREMENTAL_GOAL = 0.10
#: The members of the scaled materialization (`online_job.scaled`): ten times the goal's.
SCALED_MEMBERS = 100_000


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    with Sandbox.create(NAME, options.keep) as box:
        job = box.run(
            "Shipyard online job",
            [python(), str(BENCH_DIR / "online_job.py"), str(box.root)],
            box.shipyard_env(),
            TIMEOUT,
        )
        argv = [python(), str(BENCH_DIR / "online_job.py"), str(box.root / "scaled")]
        scaled = box.run(
            f"Shipyard materialization, {SCALED_MEMBERS:,} members",
            [*argv, "--scaled", str(SCALED_MEMBERS)],
            box.shipyard_env(),
            TIMEOUT,
        )
        feast_python = FEAST_VENV / "bin" / "python"
        peer = None
        if feast_python.exists():
            argv = [str(feast_python), str(PEERS_DIR / "feast_online.py")]
            argv += [str(box.root / "facts.parquet"), "member_id", "ts", str(LOOKUPS)]
            argv += [str(WARM_UP), "a", "b", "c"]
            peer = box.run("Feast get_online_features", argv, box.base_env(), TIMEOUT)
        else:
            result.notes.append(f"Feast is not installed in {FEAST_VENV}: no Feast figures")
    runs = [m for m in (job, scaled, peer) if m is not None]
    result.runs = [m.to_json() for m in runs]
    result.failed += [m.failure() for m in runs if not m.ok]
    result.notes += leftovers(runs)
    shipyard = _figures(job)
    feast = _figures(peer) if peer is not None else {}
    _rows(result, shipyard, feast)
    _scaled_rows(result, _figures(scaled))
    return result


def _scaled_rows(result: BenchmarkResult, scaled: dict[str, object]) -> None:
    """The materializations at ten times the goal's size: no goal, the trend."""
    full = _number(scaled, "materialize_full_s")
    incremental = _number(scaled, "materialize_incremental_s")
    share = ratio(incremental, full)
    result.rows += [
        Row(f"materialize, full, {SCALED_MEMBERS:,} entities (SQLite)", "s", full),
        Row(
            f"materialize, incremental, 1% changed, {SCALED_MEMBERS:,} entities (SQLite)",
            "s",
            incremental,
            note="" if share is None else f"{share:.1%} of full",
        ),
    ]


def _figures(measured: Measurement | None) -> dict[str, object]:
    """The JSON line a side printed last, or nothing when it failed."""
    if measured is None or not measured.ok:
        return {}
    lines = [line for line in measured.output_tail.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _number(figures: dict[str, object], *keys: str) -> float | None:
    """`figures[k1][k2]...` as a float, None where a side did not report it."""
    found: object = figures
    for key in keys:
        found = found.get(key) if isinstance(found, dict) else None
    return float(found) if isinstance(found, int | float) else None


def _rows(result: BenchmarkResult, shipyard: dict[str, object], feast: dict[str, object]) -> None:
    for side, name in (("sqlite", "SQLite"), ("redis", "Redis")):
        for statistic in ("p50_ms", "p99_ms"):
            result.rows.append(
                Row(
                    f"lookup, encoders applied, {name}, {statistic[:3]}",
                    "ms",
                    _number(shipyard, side, statistic),
                    _number(feast, statistic),
                    other_name="Feast SQLite (raw values)",
                    note=f"{LOOKUPS:,} single-entity lookups",
                )
            )
    for statistic in ("p50_ms", "p99_ms"):
        result.rows.append(
            Row(
                f"lookup, raw values, SQLite, {statistic[:3]}",
                "ms",
                _number(shipyard, "sqlite_raw", statistic),
                _number(feast, statistic),
                other_name="Feast SQLite (raw values)",
            )
        )
    full = _number(shipyard, "materialize_full_s")
    incremental = _number(shipyard, "materialize_incremental_s")
    result.rows += [
        Row("materialize, full, 10,000 entities (SQLite)", "s", full),
        Row("materialize, incremental, 1% changed (SQLite)", "s", incremental),
        Row(
            "materialize, full, 10,000 entities (Redis)",
            "s",
            _number(shipyard, "materialize_full_redis_s"),
        ),
    ]
    sqlite_p99, feast_p99 = _number(shipyard, "sqlite", "p99_ms"), _number(feast, "p99_ms")
    result.goals += [
        judge(
            "lookup p99 from SQLite (encoders applied) no higher than Feast's on SQLite",
            Figure.of([ratio(sqlite_p99, feast_p99)]).value,
            lambda r: r <= 1.0,
            lambda r: f"{r:.2f}x Feast's p99",
            runs=1,
            why_missing="Feast or Shipyard did not run",
        ),
        judge(
            f"lookup p99 from Redis (encoders applied) under {REDIS_GOAL_MS:g} ms",
            Figure.of([_number(shipyard, "redis", "p99_ms")]).value,
            lambda ms: ms < REDIS_GOAL_MS,
            lambda ms: format_value(ms, "ms"),
            runs=1,
            why_missing="no Redis server, or the job failed",
        ),
        judge(
            f"incremental materialization (1% changed) under {INCREMENTAL_GOAL:.0%} of full",
            Figure.of([ratio(incremental, full)]).value,
            lambda r: r < INCREMENTAL_GOAL,
            lambda r: f"{r:.0%} of full",
            runs=1,
            why_missing="the job failed",
        ),
    ]
