"""Idle and slow connections are closed; a slow model is not."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from shipyard.serving.app import create_app
from shipyard.serving.server import server_config

from .conftest import LiveServer, MemorySource

READ_TIMEOUT = 0.5
PREDICT = "/v1/models/ranker/predict"


@pytest.fixture
def live(source: MemorySource, live_server) -> LiveServer:
    source.add("slow", 1, slope=1.0, delay=3 * READ_TIMEOUT)
    app = create_app(["ranker@production", "slow/1"], source)
    config = server_config(app, log_level="warning", read_timeout_seconds=READ_TIMEOUT)
    server = live_server(app, config)
    server.wait_ready()
    return server


@pytest.fixture
def connection(live: LiveServer) -> Iterator[socket.socket]:
    port = int(live.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        yield sock


def _seconds_until_closed(sock: socket.socket) -> float:
    """How long until the server closes `sock` (reading whatever it sends first)."""
    started = time.monotonic()
    while sock.recv(4096):
        pass
    return time.monotonic() - started


def test_a_connection_that_sends_nothing_is_closed(connection: socket.socket) -> None:
    assert _seconds_until_closed(connection) < 5


def test_a_request_whose_headers_trickle_in_is_closed(connection: socket.socket) -> None:
    connection.sendall(b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: test\r\n")
    assert _seconds_until_closed(connection) < 5


def test_a_request_whose_body_never_ends_is_closed(
    live: LiveServer, connection: socket.socket
) -> None:
    connection.sendall(
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: test\r\n"
        b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"records": '
    )
    assert _seconds_until_closed(connection) < 5
    with live.client() as client:
        assert client.post(PREDICT, json={"records": [{"x1": 1, "x2": 1}]}).status_code == 200
        assert 'code="5' not in client.get("/metrics").text


def test_a_model_slower_than_the_read_timeout_still_answers(live: LiveServer) -> None:
    with live.client() as client:
        response = client.post("/v1/models/slow/predict", json={"records": [{"x1": 1, "x2": 1}]})
    assert response.status_code == 200 and response.json()["predictions"] == pytest.approx([2.0])
