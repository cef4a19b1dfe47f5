"""Members scored by id through a live server, parity proven, drift watched: the end of the
features part of `make demo`.

Run it after `python features_flow.py run`, which registered `member-churn` with its fitted
feature set and materialized `churn_features` into the online store. It

1. starts `shipyard serve member-churn --log-vectors 1.0` (every served vector is logged as
   a fact, for the demo; the default is 1%),
2. scores every member by id, `{"entities": [{"member_id": 0}, ...]}`, 20 per request: the
   server reads their vectors from the online store and encodes them as at training,
3. stops the server (a clean stop writes the logged vectors),
4. runs `shipyard features check` (the online vectors recomputed offline: no mismatch),
5. runs `shipyard features drift`: the served vectors against the training snapshot.
"""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from features_flow import MODEL_NAME
from score_demo import free_port, wait_until_ready

from shipyard import models

FEATURE_SET = f"{Path(__file__).with_name('features_flow.py')}:CHURN_FEATURES"
MEMBERS = 200
SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def score_by_id(base: str, name: str) -> list[float]:
    """Every member's prediction, asked for by id, 20 members per request."""
    predictions: list[float] = []
    for first in range(0, MEMBERS, 20):
        entities = [{"member_id": member} for member in range(first, first + 20)]
        request = urllib.request.Request(
            f"{base}/v1/models/{name}/predict",
            data=json.dumps({"entities": entities}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            predictions += json.load(response)["predictions"]
    return predictions


def shipyard(*args: str) -> int:
    print(f"\n$ shipyard {' '.join(args)}", flush=True)
    return subprocess.run([SHIPYARD, *args], env=os.environ.copy(), check=False).returncode


def main() -> None:
    version = models.get(MODEL_NAME)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [SHIPYARD, "serve", version.ref, "--port", str(port), "--log-vectors", "1.0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        wait_until_ready(base, server)
        predictions = score_by_id(base, MODEL_NAME)
    finally:
        server.terminate()  # SIGTERM: a clean stop, which writes the logged vectors
        server.wait(timeout=30)
    churners = sum(predictions)
    print(
        f"scored {len(predictions)} members by id through {base} with {version.ref}: "
        f"{churners} predicted to churn; members 0-4: {predictions[:5]}"
    )
    if shipyard("features", "check", FEATURE_SET, "--model", version.ref) != 0:
        raise SystemExit("the online vectors differ from their offline recomputation")
    drifted = shipyard("features", "drift", "churn_features", "--model", version.ref)
    print(
        "\nThe vectors were served as of now, the model trained on vectors as of January and "
        "February 2026\n(the generated plays): the 14- and 30-day windows of now look nothing "
        "like those, and drift says so."
        if drifted
        else "\nNo input drifted."
    )


if __name__ == "__main__":
    main()
