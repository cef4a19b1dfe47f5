"""An A/B test from start to finish: what `make demo` ends with.

1. Registers two versions of a model (`watch-ranker`): version 1 as `production`, version 2
   the candidate.
2. Creates and starts an experiment comparing them, 50/50 over members.
3. Starts `shipyard serve --experiments` on 127.0.0.1 and sends each simulated member's
   request through it: the server picks the member's cell, scores with that cell's version
   and logs the exposure.
4. Simulates what the members then do, with a known true effect for those the candidate
   served (+TRUE_EFFECT watch minutes), and logs it as outcome facts.
5. Stops the server (exposures are flushed), and analyses the experiment: the difference in
   watch minutes (with CUPED on the pre-period minutes) must recover the true effect.

Everything is generated here, nothing is downloaded; it writes to the store of the current
folder (`.shipyard`, or `SHIPYARD_DATASTORE`).
"""

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from score_demo import free_port, wait_until_ready
from sklearn.linear_model import LinearRegression

from shipyard import experiments, facts, models

TRUE_EFFECT = 3.0  # extra watch minutes for members served by the candidate
OUTCOMES = "demo_outcomes"


def register_two_versions() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"recency": rng.random(200), "affinity": rng.random(200)})
    for weight in (1.0, 2.0):  # version 1, then the candidate version 2
        target = frame["recency"] + weight * frame["affinity"]
        version = models.register(
            "watch-ranker", LinearRegression().fit(frame, target), input_example=frame
        )
    models.set_alias("watch-ranker", "production", version.version - 1)


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def send_traffic(name: str, members: int, rng: np.random.Generator) -> dict[str, str]:
    """Each member's request through a live server; returns each member's cell."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    shipyard_cli = Path(sys.executable).with_name("shipyard")
    server = subprocess.Popen(
        [str(shipyard_cli), "serve", "--experiments", "--port", str(port), "--poll-seconds",
         "0.5", "--exposure-flush-seconds", "0.5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )  # fmt: skip
    cells = {}
    try:
        wait_until_ready(base, server)
        for member in range(members):
            features = {"recency": float(rng.random()), "affinity": float(rng.random())}
            answer = post(
                f"{base}/v1/experiments/{name}/predict",
                {"unit": f"member-{member}", "records": [features]},
            )
            cells[answer["unit"]] = answer["cell"]
        print(f"sent {members} requests through {base}")
    finally:
        server.terminate()  # a clean shutdown: the server writes the exposures it buffered
        server.wait(timeout=30)
    return cells


def log_outcomes(cells: dict[str, str], rng: np.random.Generator) -> None:
    """What members did after their request: watch minutes (and whether they converted),
    `TRUE_EFFECT` minutes more for the treatment, and the pre-period minutes for CUPED."""
    facts.table(
        OUTCOMES,
        entity="member_id",
        event_time="ts",
        schema={
            "member_id": "str",
            "ts": "timestamp",
            "watch_minutes": "float",
            "conversions": "int",
            "pre_watch_minutes": "float",
        },
    )
    members = list(cells)
    treated = np.array([cells[m] == "treatment" for m in members], dtype=float)
    pre = rng.gamma(4.0, 10.0, len(members))
    later = datetime.now(UTC) + timedelta(minutes=1)  # after every exposure
    facts.ingest(
        OUTCOMES,
        pd.DataFrame(
            {
                "member_id": members,
                "ts": [later] * len(members),
                "watch_minutes": pre + rng.normal(0, 5, len(members)) + TRUE_EFFECT * treated,
                "conversions": rng.binomial(1, 0.10 + 0.02 * treated),
                "pre_watch_minutes": pre,
            }
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000, help="simulated members")
    members = parser.parse_args().members
    rng = np.random.default_rng(2026)
    register_two_versions()
    name = f"watch-ranker-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    experiments.create(
        name,
        cells={"control": "watch-ranker@production", "treatment": "watch-ranker/2"},
        allocation={"control": 0.5, "treatment": 0.5},
        unit="member_id",
        salt="watch-ranker-demo",  # the same split every time the demo runs
    )
    started = experiments.start(name)
    versions = {cell.name: cell.version for cell in started.definition.cells}
    print(f"started experiment {name}: {versions}")

    cells = send_traffic(name, members, rng)
    log_outcomes(cells, rng)
    experiments.stop(name)

    analysis = experiments.analyze(
        name,
        ["watch_minutes:mean", "conversions:sum"],
        outcomes=OUTCOMES,
        covariate="pre_watch_minutes",
    )
    print(f"sample ratio check: {analysis.srm.observed}, p = {analysis.srm.p_value:.3f}")
    print(analysis.frame.round(4).to_string(index=False))
    minutes = analysis.frame.set_index(["metric", "cell"]).loc[("watch_minutes:mean", "treatment")]
    low, high = minutes["diff_low"], minutes["diff_high"]
    verdict = "recovered" if low <= TRUE_EFFECT <= high else "MISSED"
    print(
        f"true effect {TRUE_EFFECT:+.1f} watch minutes: {verdict} "
        f"(estimate {minutes['diff']:+.2f}, 95% CI [{low:+.2f}, {high:+.2f}], CUPED removed "
        f"{minutes['variance_reduction']:.0%} of the variance)"
    )
    print(f"see it again with: shipyard experiments analyze {name} --outcomes {OUTCOMES} "
          "--metric watch_minutes:mean --covariate pre_watch_minutes")  # fmt: skip


if __name__ == "__main__":
    main()
