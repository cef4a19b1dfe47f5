"""Routing through the scoring server: `POST /v1/experiments/{name}/predict` beside
`POST /v1/models/{name}/predict` on the same model, for `bench_experiments`.

One `shipyard serve bench-model@production --experiments` answers both: the experiment
`bench-routing` splits units 50/50 between two cells that both serve `bench-model/1`, the
version behind the alias, so the two paths score the same model and differ only by what an
experiment adds (allocation, the cell's batcher, one exposure enqueued per request). wrk sends
single-record requests from 16 keep-alive connections, the two paths alternating run by run;
experiment requests carry a unit id, a different member each. Before the load, both paths
score the same rows one request at a time and must agree. After the server's clean shutdown
the exposures table must hold one exposure per scored experiment request.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.bench_serving import check_call, free_port, predict_each, serving_process
from benchmarks.harness import BENCH_DIR, Options, Sandbox
from benchmarks.wrk import Load, run_wrk

CONCURRENCY = 16
SECONDS = 10.0
WARM_UP_SECONDS = 3.0
COMPARED = 50
EXPERIMENT = "bench-routing"
#: (what is requested): plain scoring, and scoring through the experiment.
KINDS = ("model", "experiment")
#: The fact table of exposures (`shipyard.experiments.exposures.EXPOSURES`).
EXPOSURES = "experiment_exposures"


@dataclass
class Routing:
    """The runs of each kind; why the two paths disagree (None: they agree); the experiment
    requests the server scored, as its clients counted them, and the exposures it wrote."""

    runs: dict[str, list[Load]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    disagreement: str | None = None
    requests: int = 0
    exposures: int = 0


def measure(options: Options) -> Routing:
    """Serve, load both paths, stop the server, count the exposures."""
    routing = Routing()
    with Sandbox.create("experiments-routing", options.keep) as box:
        env = box.shipyard_env()
        model_dir = box.root / "model"
        for script in ("serving_model.py", "serving_register.py"):
            check_call([sys.executable, str(BENCH_DIR / script), str(model_dir)], env, box.root)
        shipyard = str(Path(sys.executable).with_name("shipyard"))
        cells = ["--cell", "control=bench-model/1", "--cell", "treatment=bench-model/1"]
        check_call([shipyard, "experiments", "create", EXPERIMENT, *cells], env, box.root)
        check_call([shipyard, "experiments", "start", EXPERIMENT], env, box.root)
        rows = json.loads((model_dir / "example.json").read_text())
        bodies = {
            "model": [json.dumps({"records": [row]}).encode() for row in rows],
            "experiment": [
                json.dumps({"unit": f"member-{i}", "records": [row]}).encode()
                for i, row in enumerate(rows * 50)  # 10,000 members
            ],
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        urls = {
            "model": f"{base}/v1/models/bench-model/predict",
            "experiment": f"{base}/v1/experiments/{EXPERIMENT}/predict",
        }
        serve = [shipyard, "serve", "bench-model@production", "--experiments"]
        serve += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        with serving_process(serve, env, box.root, f"{base}/readyz"):
            first = {kind: predict_each(urls[kind], bodies[kind][:COMPARED]) for kind in KINDS}
            routing.requests += COMPARED
            if first["model"] != first["experiment"]:
                routing.disagreement = (
                    f"the experiment and the model disagree on the first {COMPARED} rows"
                )
            for kind in KINDS:
                warm = _load(f"{kind} (warm-up)", urls[kind], bodies[kind], WARM_UP_SECONDS)
                routing.requests += warm.correct if kind == "experiment" else 0
            for _ in range(options.repeats(3)):
                for kind in KINDS:
                    load = _load(kind, urls[kind], bodies[kind], SECONDS)
                    routing.runs[kind].append(load)
            routing.requests += sum(load.correct for load in routing.runs["experiment"])
        count = f"from shipyard.features import facts; print(len(facts.read({EXPOSURES!r})))"
        routing.exposures = int(_output([sys.executable, "-c", count], env, box.root))
    return routing


def _output(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def _load(kind: str, url: str, bodies: list[bytes], seconds: float) -> Load:
    load = run_wrk(url, bodies, CONCURRENCY, seconds)
    latency = load.latency_ms
    print(
        f"    {kind}: {load.throughput:.0f} correct replies/s, p50 {latency['p50']:.2f} ms, "
        f"p99 {latency['p99']:.2f} ms, failed requests {load.failures}",
        flush=True,
    )
    return load
