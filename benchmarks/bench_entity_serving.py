"""Scoring by entity id against scoring the same rows sent as features, through one server.

`entity_serving_setup.py` registers `bench-churn@production`, trained on a feature set of
2,000 members, and materializes its vectors into the SQLite online store; it writes each
member's encoded vector as the entity path builds it. `shipyard serve` (defaults, so 1% of
served vectors logged) then answers single-entity requests, `{"entities": [{"member_id":
7}]}`, and single-record requests holding that member's encoded vector, from wrk at 16
keep-alive connections, the two kinds alternating run by run. A second server started with
`--log-vectors 0` answers the same records. Before the load, the first members are scored
both ways, one request at a time, and must agree. Last, `vector_log_cost.py` times what
logging adds to one prediction in-process (`VectorLog.offer`), which two servers' p99s on
a shared machine cannot resolve to a millisecond.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.bench_serving import check_call, free_port, predict_each, serving_process
from benchmarks.goals import Statistic, judge, ratio
from benchmarks.harness import BENCH_DIR, Options, Sandbox
from benchmarks.load_figures import LoadFigures, failed_loads
from benchmarks.report import BenchmarkResult, Row
from benchmarks.wrk import Load, LoadGeneratorMissing, ensure_wrk, run_wrk

NAME = "entity_serving"
TITLE = "Scoring by entity id vs the same rows as features: 16 concurrent clients"
CONCURRENCY = 16
SECONDS = 10.0
WARM_UP_SECONDS = 3.0
COMPARED = 50
SLOWDOWN_GOAL = 1.3
LOGGING_GOAL_MS = 1.0
#: (what is sent, which server): the entities and the records with logging on, the records
#: with logging off.
KINDS = ("entities", "records", "records, no logging")


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    try:
        ensure_wrk()
    except LoadGeneratorMissing as exc:
        result.error = str(exc)
        return result
    with Sandbox.create(NAME, options.keep) as box:
        env = box.shipyard_env()
        setup = [sys.executable, str(BENCH_DIR / "entity_serving_setup.py"), str(box.root)]
        check_call(setup, env, box.root)
        rows = json.loads((box.root / "rows.json").read_text())
        bodies = {
            "entities": [_body("entities", [{"member_id": r["member_id"]}]) for r in rows],
            "records": [_body("records", [r["features"]]) for r in rows],
        }
        bodies["records, no logging"] = bodies["records"]
        ports = {"logging": free_port(), "silent": free_port()}
        urls = {
            kind: f"http://127.0.0.1:{ports['silent' if 'no logging' in kind else 'logging']}"
            "/v1/models/bench-churn/predict"
            for kind in KINDS
        }
        runs: dict[str, list[Load]] = {kind: [] for kind in KINDS}
        with (
            serving_process(_serve(ports["logging"]), env, box.root, _ready(ports["logging"])),
            serving_process(
                [*_serve(ports["silent"]), "--log-vectors", "0"],
                env,
                box.root,
                _ready(ports["silent"]),
            ),
        ):
            first = {
                k: predict_each(urls[k], bodies[k][:COMPARED]) for k in ("entities", "records")
            }
            disagreement = (
                None
                if first["entities"] == first["records"]
                else f"entity and record requests disagree on the first {COMPARED} members"
            )
            for kind in KINDS:
                _load(f"{kind} (warm-up)", urls[kind], bodies[kind], WARM_UP_SECONDS)
            for _ in range(options.repeats(3)):
                for kind in KINDS:
                    runs[kind].append(_load(kind, urls[kind], bodies[kind], SECONDS))
        cost = _logging_cost(box, env)
    result.runs = [{"kind": kind, **load.to_json()} for kind in KINDS for load in runs[kind]]
    result.runs.append({"kind": "VectorLog.offer", "ms": cost})
    _judge(result, runs, disagreement)
    _judge_logging(result, cost)
    return result


def _logging_cost(box: Sandbox, env: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per logging rate, p50/p99/max of `VectorLog.offer` in ms."""
    argv = [sys.executable, str(BENCH_DIR / "vector_log_cost.py"), str(box.root)]
    done = subprocess.run(argv, env=env, cwd=box.root, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"vector_log_cost.py failed:\n{done.stdout}\n{done.stderr}")
    cost: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"    VectorLog.offer: {cost}", flush=True)
    return cost


def _judge_logging(result: BenchmarkResult, cost: dict[str, dict[str, float]]) -> None:
    default, every = cost["0.01"], cost["1.0"]
    result.rows += [
        Row("served-vector logging at 1%: p99 added per prediction", "ms", default["p99"]),
        Row("served-vector logging at 100%: p50 added per prediction", "ms", every["p50"]),
    ]
    result.goals.append(
        judge(
            f"served-vector logging (1%) adds under {LOGGING_GOAL_MS:g} ms to a prediction's p99",
            lambda s: default["p99"],
            lambda added: added < LOGGING_GOAL_MS,
            lambda added: f"{added:.3f} ms",
            runs=1,
        )
    )


def _serve(port: int) -> list[str]:
    shipyard = str(Path(sys.executable).with_name("shipyard"))
    serve = [shipyard, "serve", "bench-churn@production", "--port", str(port)]
    return [*serve, "--log-level", "warning"]


def _ready(port: int) -> str:
    return f"http://127.0.0.1:{port}/readyz"


def _body(key: str, items: list[dict[str, object]]) -> bytes:
    return json.dumps({key: items}).encode()


def _load(kind: str, url: str, bodies: list[bytes], seconds: float) -> Load:
    load = run_wrk(url, bodies, CONCURRENCY, seconds)
    latency = load.latency_ms
    print(
        f"    {kind}: {load.throughput:.0f} correct replies/s, p50 {latency['p50']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms, failed requests {load.failures}",
        flush=True,
    )
    return load


def _judge(result: BenchmarkResult, runs: dict[str, list[Load]], disagreement: str | None) -> None:
    result.failed = failed_loads(runs)
    if disagreement:
        result.failed.append(disagreement)
    figures = LoadFigures(runs, measured=disagreement is None)
    rps = {k: figures.throughput(k) for k in KINDS}
    p99 = {k: figures.latency(k, "p99") for k in KINDS}
    median = Statistic.MEDIAN
    result.rows = [
        *figures.rows("entities", "records", "records", CONCURRENCY),
        Row(
            "p99 latency of records, logging 1% vs none",
            "ms",
            p99["records"].value(median),
            p99["records, no logging"].value(median),
            "no logging",
        ),
    ]
    n = len(runs["entities"])
    why = "; ".join(result.failed)
    result.goals = [
        judge(
            f"entity-id throughput within {SLOWDOWN_GOAL}x of raw-feature scoring",
            lambda s: ratio(rps["records"].value(s), rps["entities"].value(s)),
            lambda factor: factor <= SLOWDOWN_GOAL,
            lambda factor: f"records/entities = {factor:.2f}x",
            runs=n,
            why_missing=why,
        ),
        judge(
            f"entity-id p99 within {SLOWDOWN_GOAL}x of raw-feature scoring",
            lambda s: ratio(p99["entities"].value(s), p99["records"].value(s)),
            lambda factor: factor <= SLOWDOWN_GOAL,
            lambda factor: f"{factor:.2f}x",
            runs=n,
            why_missing=why,
        ),
    ]
    result.notes = [
        f"Load: wrk, one thread, {CONCURRENCY} keep-alive connections, {SECONDS:.0f} s per run "
        f"after a {WARM_UP_SECONDS:.0f} s warm-up, one entity or one record per request, the "
        "2,000 members round-robin. An entity request makes the server look the member up in "
        "the SQLite online store and encode it with the version's fitted encoders (a group's "
        "lookups share one read; encoded rows are kept by stored bytes, so after the first "
        "round each lookup hits); a record request sends that member's encoded vector. "
        "Throughput counts only HTTP 200 replies holding predictions; a run with any other "
        "reply is a failed run. Figures are medians of the runs; wrk and both servers share "
        "the machine's cores.",
        "Logging cost: `VectorLog.offer` timed in one process on the model's one-row frames, "
        "20,000 calls at 1% (a kept row: one random draw per row, the row copied into the "
        "log's buffer) and 5,000 at 100%, with the log's writer thread writing meanwhile.",
    ]
