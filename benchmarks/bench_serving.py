"""Scoring service: the same scikit-learn model behind `shipyard serve` and `mlflow models serve`.

Both servers run on 127.0.0.1 with one worker process each, serving one pickle (see
`serving_model.py`). A load client in a third process sends bounded single-record requests
from 16 concurrent connections, alternating between the two servers run by run. MLflow runs
from its own environment (`.venv-mlflow`), since its pins conflict with Shipyard's.
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
from statistics import median

from benchmarks.harness import BENCH_DIR, PEERS_DIR, Options, Sandbox
from benchmarks.report import BenchmarkResult, Goal, Row

NAME = "serving"
TITLE = "Scoring service: single-record requests from 16 concurrent clients"
MLFLOW_VENV = BENCH_DIR.parent / ".venv-mlflow"
REQUESTS = 3000
CONCURRENCY = 16
READY_SECONDS = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed:\n{done.stdout}\n{done.stderr}")


@contextmanager
def _server(argv: list[str], env: dict[str, str], cwd: Path, ready_url: str) -> Iterator[None]:
    log = (cwd / f"server-{_free_port()}.log").open("w")
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


def _load(url: str, kind: str, example: Path, out: Path, env: dict[str, str]) -> dict:
    argv = [sys.executable, str(BENCH_DIR / "load_client.py"), url, kind, str(example)]
    argv += ["--requests", str(REQUESTS), "--concurrency", str(CONCURRENCY), "--out", str(out)]
    subprocess.run(argv, env=env, check=True, timeout=600)
    figures = json.loads(out.read_text())
    print(
        f"    {kind}: {figures['throughput']:.0f} req/s, p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms, errors {figures['errors']}",
        flush=True,
    )
    return figures


def run(options: Options) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    mlflow_bin = MLFLOW_VENV / "bin"
    if not (mlflow_bin / "mlflow").exists():
        result.error = f"MLflow is not installed in {MLFLOW_VENV}; run `make bench`"
        return result
    with Sandbox.create(NAME, options.keep) as box:
        model_dir = box.root / "model"
        base = box.base_env()
        _check(
            [sys.executable, str(BENCH_DIR / "serving_model.py"), str(model_dir)], base, box.root
        )
        example = model_dir / "example.json"
        ours_env = box.shipyard_env()
        _check(
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
        _check(
            [
                str(mlflow_bin / "python"),
                str(PEERS_DIR / "mlflow_save.py"),
                str(model_dir),
                str(mlflow_model),
            ],
            peer_env,
            box.root,
        )

        ours_port, peer_port = _free_port(), _free_port()
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
        ours_url = f"http://127.0.0.1:{ours_port}/v1/models/bench-model/predict"
        peer_url = f"http://127.0.0.1:{peer_port}/invocations"
        runs: dict[str, list[dict]] = {"shipyard": [], "mlflow": []}
        with (
            _server(ours_cmd, ours_env, box.root, f"http://127.0.0.1:{ours_port}/readyz"),
            _server(peer_cmd, peer_env, box.root, f"http://127.0.0.1:{peer_port}/ping"),
        ):
            for attempt in range(options.repeats(3)):
                for kind, url in (("shipyard", ours_url), ("mlflow", peer_url)):
                    out = box.root / f"{kind}-{attempt}.json"
                    runs[kind].append(_load(url, kind, example, out, base))
    result.runs = [{"tool": kind, **figures} for kind, items in runs.items() for figures in items]
    ours = {
        key: median(r[key] for r in runs["shipyard"]) for key in ("throughput", "p50_ms", "p99_ms")
    }
    peer = {
        key: median(r[key] for r in runs["mlflow"]) for key in ("throughput", "p50_ms", "p99_ms")
    }
    errors = sum(r["errors"] for items in runs.values() for r in items)
    result.rows = [
        Row(
            "time per request at 16 clients (1 / throughput)",
            "ms",
            1000 / ours["throughput"],
            1000 / peer["throughput"],
            "MLflow",
            f"{ours['throughput']:.0f} vs {peer['throughput']:.0f} requests/s",
        ),
        Row("p50 latency", "ms", ours["p50_ms"], peer["p50_ms"], "MLflow"),
        Row("p99 latency", "ms", ours["p99_ms"], peer["p99_ms"], "MLflow"),
    ]
    ratio = ours["throughput"] / peer["throughput"]
    result.goals = [
        Goal(
            "Shipyard ≥ 3x MLflow's throughput",
            f"{ratio:.1f}x ({ours['throughput']:.0f} vs {peer['throughput']:.0f} req/s)",
            ratio >= 3,
        ),
        Goal(
            "Shipyard p99 latency lower than MLflow's",
            f"{ours['p99_ms']:.1f} ms vs {peer['p99_ms']:.1f} ms",
            ours["p99_ms"] < peer["p99_ms"],
        ),
    ]
    result.notes = [
        f"{REQUESTS} timed requests per run after a warm-up, {CONCURRENCY} concurrent "
        "connections (httpx, keep-alive), one JSON record per request; medians of the runs. "
        "Both servers: one process, one uvicorn worker, bound to 127.0.0.1. "
        f"Failed requests in all runs: {errors}.",
        "Commands: `shipyard serve bench-model@production` (micro-batching on, defaults) and "
        "`mlflow models serve -m <model> -w 1 --env-manager local`.",
    ]
    return result
