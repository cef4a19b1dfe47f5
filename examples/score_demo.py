"""Score a few rows through a live scoring server: what `make demo` ends with.

Starts `shipyard serve breast-cancer@production` on 127.0.0.1, waits until it is ready,
sends three held-out rows of the latest TrainFlow run as JSON, prints the predictions next
to the true labels, and stops the server.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from shipyard import Flow

MODEL = "breast-cancer@production"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped early (exit code {server.returncode})")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server was not ready within {seconds:.0f}s")


def main() -> None:
    run = Flow("TrainFlow").latest_successful_run
    rows = run["start"].task.data.test_x.head(3)
    labels = run["start"].task.data.test_y.head(3).tolist()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    shipyard_cli = Path(sys.executable).with_name("shipyard")
    server = subprocess.Popen(
        [str(shipyard_cli), "serve", MODEL, "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        wait_until_ready(base, server)
        body = json.dumps({"records": json.loads(rows.to_json(orient="records"))}).encode()
        request = urllib.request.Request(
            f"{base}/v1/models/breast-cancer/predict",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        print(f"scored through {base} by {answer['model']} version {answer['version']}:")
        for prediction, label in zip(answer["predictions"], labels, strict=True):
            print(f"  predicted {prediction}, true label {label}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
