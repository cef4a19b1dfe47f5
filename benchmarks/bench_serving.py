"""Scoring service: the same scikit-learn model behind `shipyard serve` and `mlflow models serve`.

Both servers run on 127.0.0.1 with one worker process each, serving one pickle (see
`serving_model.py`). First both score the same rows one request at a time and must agree.
Then wrk (see `wrk.py`) sends single-record requests from 16 keep-alive connections for a
fixed time, alternating between the two servers run by run. Only correct replies count; a
run with any other reply, or with none, is a failed run, and its figures are not used.
MLflow runs from its own environment (`.venv-mlflow`), since its pins conflict with
Shipyard's.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.goals import judge, ratio
from benchmarks.harness import BENCH_DIR, PEERS_DIR, Options, Sandbox
from benchmarks.load_figures import LoadFigures, failed_loads
from benchmarks.report import BenchmarkResult
from benchmarks.wrk import Load, LoadGeneratorMissing, ensure_wrk, run_wrk

NAME = "serving"
TITLE = "Scoring service: single-record requests from 16 concurrent clients"
MLFLOW_VENV = BENCH_DIR.parent / ".venv-mlflow"
CONCURRENCY = 16
SECONDS = 10.0
WARM_UP_SECONDS = 3.0
# Rows both servers score one request at a time before the load, and must agree on.
COMPARED_ROWS = 50
THROUGHPUT_GOAL = 1000.0
TAIL_GOAL = 3.0
PEER_THROUGHPUT_GOAL = 3.0
TOOLS = ("shipyard", "mlflow")
PERCENTILES = ("p50", "p99", "p99.9")
READY_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_call(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed:\n{done.stdout}\n{done.stderr}")


@contextmanager
def serving_process(
    argv: list[str], env: dict[str, str], cwd: Path, ready_url: str
) -> Iterator[None]:
    log = (cwd / f"server-{free_port()}.log").open("w")
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited early; see {log.name}")
            try:
                with urllib.request.urlopen(ready_url, timeout=1) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} was not ready within {READY_SECONDS:.0f}s")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _bodies(kind: str, rows: list[dict]) -> list[bytes]:
    """One single-record request body per row, in each server's own format."""
    key = "records" if kind == "shipyard" else "dataframe_records"
    return [json.dumps({key: [row]}).encode() for row in rows]


def predict_each(url: str, bodies: list[bytes]) -> list[object]:
    """The prediction for each body, one request at a time."""
    predictions = []
    for body in bodies:
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions.extend(json.loads(response.read())["predictions"])
    return predictions


def _compare_predictions(urls: dict[str, str], rows: list[dict]) -> str | None:
    """Why the two servers disagree on the first rows, or None when they agree."""
    checked = rows[:COMPARED_ROWS]
    answers = {kind: predict_each(url, _bodies(kind, checked)) for kind, url in urls.items()}
    ours, peer = answers["shipyard"], answers["mlflow"]
    if len(ours) != len(checked) or ours != peer:
        differ = [i for i, (a, b) in enumerate(zip(ours, peer, strict=False)) if a != b]
        return (
            f"the servers disagree on the same {len(checked)} rows: Shipyard gave "
            f"{len(ours)} predictions, MLflow {len(peer)}; rows that differ: {differ[:10]}"
        )
    return None


def _load(kind: str, url: str, bodies: list[bytes], seconds: float) -> Load:
    load = run_wrk(url, bodies, CONCURRENCY, seconds)
    latency = load.latency_ms
    print(
        f"    {kind}: {load.throughput:.0f} correct replies/s, p50 {latency['p50']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms, p99.9 {latency['p99.9']:.1f} ms, "
        f"failed requests {load.failures}",
        flush=True,
    )
    return load


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    mlflow_bin = MLFLOW_VENV / "bin"
    if not (mlflow_bin / "mlflow").exists():
        result.error = f"MLflow is not installed in {MLFLOW_VENV}; run `make bench`"
        return result
    try:
        ensure_wrk()
    except LoadGeneratorMissing as exc:
        result.error = str(exc)
        return result
    with Sandbox.create(NAME, options.keep) as box:
        model_dir = box.root / "model"
        base = box.base_env()
        check_call(
            [sys.executable, str(BENCH_DIR / "serving_model.py"), str(model_dir)], base, box.root
        )
        example = model_dir / "example.json"
        ours_env = box.shipyard_env()
        check_call(
            [sys.executable, str(BENCH_DIR / "serving_register.py"), str(model_dir)],
            ours_env,
            box.root,
        )
        mlflow_model = box.root / "mlflow-model"
        # `mlflow models serve` starts `uvicorn` from PATH: it must be MLflow's own.
        peer_env = {
            **base,
            "PATH": f"{mlflow_bin}:{base['PATH']}",
            "MLFLOW_TRACKING_URI": f"file://{box.root / 'mlruns'}",
        }
        check_call(
            [
                str(mlflow_bin / "python"),
                str(PEERS_DIR / "mlflow_save.py"),
                str(model_dir),
                str(mlflow_model),
            ],
            peer_env,
            box.root,
        )

        ours_port, peer_port = free_port(), free_port()
        ours_cmd = [
            str(Path(sys.executable).with_name("shipyard")),
            "serve",
            "bench-model@production",
            "--host",
            "127.0.0.1",
            "--port",
            str(ours_port),
            "--log-level",
            "warning",
        ]
        peer_cmd = [
            str(mlflow_bin / "mlflow"),
            "models",
            "serve",
            "-m",
            str(mlflow_model),
            "-h",
            "127.0.0.1",
            "-p",
            str(peer_port),
            "-w",
            "1",
            "--env-manager",
            "local",
        ]
        urls = {
            "shipyard": f"http://127.0.0.1:{ours_port}/v1/models/bench-model/predict",
            "mlflow": f"http://127.0.0.1:{peer_port}/invocations",
        }
        rows = json.loads(example.read_text())
        bodies = {kind: _bodies(kind, rows) for kind in TOOLS}
        runs: dict[str, list[Load]] = {kind: [] for kind in TOOLS}
        with (
            serving_process(ours_cmd, ours_env, box.root, f"http://127.0.0.1:{ours_port}/readyz"),
            serving_process(peer_cmd, peer_env, box.root, f"http://127.0.0.1:{peer_port}/ping"),
        ):
            disagreement = _compare_predictions(urls, rows)
            for kind in TOOLS:  # connections, caches, the model's first calls
                _load(f"{kind} (warm-up)", urls[kind], bodies[kind], WARM_UP_SECONDS)
            for _ in range(options.repeats(3)):
                for kind in TOOLS:
                    runs[kind].append(_load(kind, urls[kind], bodies[kind], SECONDS))
    result.runs = [{"tool": kind, **load.to_json()} for kind in TOOLS for load in runs[kind]]
    judge_runs(result, runs, disagreement)
    return result


def judge_runs(
    result: BenchmarkResult, runs: dict[str, list[Load]], disagreement: str | None
) -> None:
    """Figures and goals from the runs; a failed run or a disagreement leaves them unmeasured."""
    result.failed = failed_loads(runs)
    if disagreement:
        result.failed.append(disagreement)
    # Figures of servers that disagree are figures of a wrong answer: not measured.
    figures = LoadFigures(runs, measured=disagreement is None)
    throughput = {k: figures.throughput(k) for k in TOOLS}
    tail = figures.figure("shipyard", lambda load: load.latency_ms["p99"] / load.latency_ms["p50"])
    result.rows = figures.rows("shipyard", "mlflow", "MLflow", CONCURRENCY, PERCENTILES)
    n = len(runs["shipyard"])
    why = "; ".join(result.failed)
    result.goals = [
        judge(
            f"Shipyard ≥ {THROUGHPUT_GOAL:.0f} requests/s at {CONCURRENCY} clients",
            throughput["shipyard"].value,
            lambda rps: rps >= THROUGHPUT_GOAL,
            lambda rps: f"{rps:.0f} requests/s",
            runs=n,
            why_missing=why,
        ),
        judge(
            f"Shipyard p99 < {TAIL_GOAL:.0f}x p50 at {CONCURRENCY} clients",
            tail.value,
            lambda factor: factor < TAIL_GOAL,
            lambda factor: f"p99 = {factor:.2f}x p50",
            runs=n,
            why_missing=why,
        ),
        judge(
            f"Shipyard ≥ {PEER_THROUGHPUT_GOAL:.0f}x MLflow's throughput",
            lambda s: ratio(throughput["shipyard"].value(s), throughput["mlflow"].value(s)),
            lambda factor: factor >= PEER_THROUGHPUT_GOAL,
            lambda factor: f"{factor:.1f}x",
            runs=n,
            why_missing=why,
        ),
        judge(
            "Shipyard p99 latency lower than MLflow's",
            lambda s: ratio(
                figures.latency("shipyard", "p99").value(s),
                figures.latency("mlflow", "p99").value(s),
            ),
            lambda factor: factor < 1,
            lambda factor: f"{factor:.2f}x MLflow's p99",
            runs=n,
            why_missing=why,
        ),
    ]
    result.notes = [
        f"Load: wrk, one thread, {CONCURRENCY} keep-alive connections, {SECONDS:.0f} s per run "
        f"after a {WARM_UP_SECONDS:.0f} s warm-up, one JSON record per request, the example's "
        f"200 rows round-robin. Before the load, both servers scored the first {COMPARED_ROWS} "
        "rows one request at a time and had to return the same predictions. Throughput counts "
        "only HTTP 200 replies holding predictions; a run with any other reply or a socket "
        "error (timeouts included) is a failed run, and its figures are not used. Latency "
        "percentiles are wrk's (HdrHistogram) over the replies of a run; figures are medians "
        "of the runs (every run is in serving.json). Both servers: one process, one uvicorn "
        "worker, bound to 127.0.0.1; wrk runs on the same 2 cores. A percentile rests on "
        "the replies beyond it: at about 100 replies/s, MLflow's p99.9 is its slowest few "
        "replies of a run.",
        "Commands: `shipyard serve bench-model@production` (defaults) and "
        "`mlflow models serve -m <model> -w 1 --env-manager local`.",
    ]
