"""`shipyard serve` and `shipyard models score`, run as a user would, in subprocesses."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd

from .conftest import example_frame, wait_for

PREDICT = "/v1/models/ranker/predict"
# The `shipyard` console script, run by the interpreter of this test session.
SHIPYARD = [sys.executable, "-c", "from shipyard.cli.main import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _shipyard(home, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SHIPYARD, *args],
        env=home.env,
        cwd=home.root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_shipyard_serve_serves_and_stops_on_sigterm(registry, home) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            *SHIPYARD,
            "serve",
            "ranker@production",
            "scorer/1",
            "--port",
            str(port),
            "--poll-seconds",
            "0.2",
        ],
        env=home.env,
        cwd=home.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(url + "/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                return False

        wait_for(ready, 30, "server ready")
        response = httpx.post(url + PREDICT, json={"records": [{"x1": 1.0, "x2": 1}]}, timeout=5)
        assert response.status_code == 200 and response.json()["version"] == 1
        listing = httpx.get(url + "/v1/models", timeout=5).json()["models"]
        assert [m["ref"] for m in listing] == ["ranker@production", "scorer/1"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so the parent sees it.
    assert process.returncode == -signal.SIGTERM, stderr
    assert "Application shutdown complete" in stderr
    assert "serving ranker@production, scorer/1" in stderr


def test_shipyard_serve_rejects_a_bad_reference(home) -> None:
    result = _shipyard(home, "serve", "ranker@@x")
    assert result.returncode == 1 and "is not a model reference" in result.stderr


def test_shipyard_models_score(registry, home, tmp_path: Path) -> None:
    example_frame(20).to_parquet(tmp_path / "in.parquet")
    result = _shipyard(
        home,
        "models",
        "score",
        "ranker@production",
        "--input",
        str(tmp_path / "in.parquet"),
        "--output",
        str(tmp_path / "out.parquet"),
        "--chunk-rows",
        "7",
    )
    assert result.returncode == 0, result.stderr
    assert "scored 20 rows" in result.stdout
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 20


def test_shipyard_serve_of_a_model_that_does_not_exist_fails_at_start(registry, home) -> None:
    result = _shipyard(home, "serve", "ranker@production", "ghost@production", timeout=30)
    assert result.returncode == 1
    assert "cannot serve ghost@production" in result.stderr
    assert "--wait-for-models" in result.stderr
    assert "serving" not in result.stderr


def test_serving_and_batch_scoring_only_read_a_store(home, tmp_path: Path) -> None:
    """Without a store they say where they looked, in one line, and create none."""
    (tmp_path / "in.csv").write_text("x\n1\n")
    served = _shipyard(home, "serve", "ranker@production", timeout=30)
    scored = _shipyard(
        home,
        "models",
        "score",
        "ranker@production",
        "--input",
        str(tmp_path / "in.csv"),
        "--output",
        str(tmp_path / "out.csv"),
    )

    said = f"error: no Shipyard store at {home.root / 'store'}"
    for result in (served, scored):
        assert result.returncode == 1
        assert result.stderr.strip().startswith(said)
        assert "Traceback" not in result.stderr
    assert not (home.root / "store").exists()


def test_shipyard_serve_waits_for_a_missing_model_only_when_asked(registry, home) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [*SHIPYARD, "serve", "ghost", "--wait-for-models", "--port", str(port)],
        env=home.env,
        cwd=home.root,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 503
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                return False

        wait_for(answers, 30, "a server answering 503 until ghost exists")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def test_shipyard_serve_refuses_a_model_named_twice_before_saying_it_serves(registry, home) -> None:
    result = _shipyard(home, "serve", "ranker@production", "ranker/1", timeout=30)
    assert result.returncode == 1
    assert "ranker is named by more than one reference" in result.stderr
    assert "serving" not in result.stderr


def test_shipyard_serve_help_describes_every_option(home) -> None:
    result = _shipyard(home, "serve", "--help")
    assert result.returncode == 0
    described = " ".join(result.stdout.split())  # as one line, whatever click's wrapping
    for text in ("Port to listen on", "Least severe server messages", "--wait-for-models"):
        assert text in described
