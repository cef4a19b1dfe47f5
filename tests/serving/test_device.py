"""`shipyard serve --device`: models load onto the device given, or the server refuses it."""

from __future__ import annotations

import subprocess
import sys

import httpx

from shipyard.serving.app import create_app

from .conftest import example_frame, wait_for

SHIPYARD = [sys.executable, "-c", "from shipyard.cli.main import main; main()"]


def test_serve_refuses_a_device_that_is_not_one_in_one_line(home) -> None:
    done = subprocess.run(
        [*SHIPYARD, "serve", "ranker", "--device", "gpu"],
        env=home.env,
        cwd=home.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: 'gpu' is not a device: use 'cpu', 'cuda', 'cuda:N' (the N-th visible GPU) or "
        "another PyTorch device type such as 'mps'"
    ]


def test_served_models_are_loaded_onto_the_device_given(registry, live_server) -> None:
    on_cpu = live_server(create_app(["ranker"], registry, device="cpu"))
    on_gpu = live_server(create_app(["scorer"], registry, device="cuda"))
    on_cpu.wait_ready()

    def load_error() -> str | None:
        return httpx.get(f"{on_gpu.url}/v1/models/scorer", timeout=2).json()["last_error"]

    wait_for(lambda: load_error() is not None, 10, "the scorer's load to fail")
    rows = example_frame(2).to_dict(orient="records")
    reply = httpx.post(f"{on_cpu.url}/v1/models/ranker/predict", json={"records": rows})
    assert reply.status_code == 200
    assert "sklearn flavor loads models onto the CPU only, not onto 'cuda'" in str(load_error())
