"""A bounded load generator: C concurrent clients send single-record requests on 127.0.0.1.

`python load_client.py URL FORMAT EXAMPLE_JSON --requests N --concurrency C --out OUT.json`
FORMAT is `shipyard` (`{"records": [row]}`) or `mlflow` (`{"dataframe_records": [row]}`).
Runs in a process of its own so that the client's work is not charged to either server.
It sends a warm-up first, then exactly N timed requests, and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx


def payload(kind: str, row: dict) -> bytes:
    key = "records" if kind == "shipyard" else "dataframe_records"
    return json.dumps({key: [row]}).encode()


async def run(url: str, bodies: list[bytes], requests: int, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            nonlocal errors
            for index in counter:
                body = bodies[index % len(bodies)]
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        for _ in range(2):  # warm-up: connections, caches, the model's first call
            await asyncio.gather(
                *(client.post(url, content=bodies[0], headers=headers) for _ in range(concurrency))
            )
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "throughput": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": 1000 * latencies[-1],
        "concurrency": concurrency,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("format", choices=["shipyard", "mlflow"])
    parser.add_argument("example", type=Path)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = json.loads(args.example.read_text())
    bodies = [payload(args.format, row) for row in rows]
    figures = asyncio.run(run(args.url, bodies, args.requests, args.concurrency))
    args.out.write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
