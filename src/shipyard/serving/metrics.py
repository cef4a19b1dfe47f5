"""Prometheus metrics of one scoring app, in a registry of its own.

Each app owns a `CollectorRegistry` rather than using the process-wide default: two apps
in one process (tests, or a future multi-app server) would otherwise fight over the same
metric names. Label values are bounded: model names come from the served set only
(unknown names are counted as `(unknown)`), so a client cannot blow up the series count.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

UNKNOWN_MODEL = "(unknown)"

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ServingMetrics:
    """The counters and histograms of a scoring app, and their text exposition."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "shipyard_serving_requests",
            "Prediction requests, by model, version and HTTP status code.",
            ["model", "version", "code"],
            registry=self.registry,
        )
        self.errors = Counter(
            "shipyard_serving_errors",
            "Prediction requests that failed, by model, version and kind of error.",
            ["model", "version", "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shipyard_serving_request_duration_seconds",
            "Time from a prediction request's arrival to its response, by model and version.",
            ["model", "version"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "shipyard_serving_batch_rows",
            "Rows per predict call after micro-batching, by model and version.",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "shipyard_serving_batch_requests",
            "Requests grouped into one predict call, by model and version.",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.model_version = Gauge(
            "shipyard_serving_model_version",
            "The version each served model currently answers with (0 before the first load).",
            ["model"],
            registry=self.registry,
        )
        self.model_loads = Counter(
            "shipyard_serving_model_loads",
            "Attempts to load a model version, by model and outcome (loaded, failed).",
            ["model", "outcome"],
            registry=self.registry,
        )

    def observe_request(
        self, model: str, version: str, code: int, seconds: float, error_kind: str | None
    ) -> None:
        """Count one finished prediction request."""
        self.requests.labels(model, version, str(code)).inc()
        self.latency.labels(model, version).observe(seconds)
        if code >= 400:
            self.errors.labels(model, version, error_kind or f"HTTP{code}").inc()

    def observe_batch(self, model: str, version: int, rows: int, requests: int) -> None:
        """Record the size of one predict call."""
        self.batch_rows.labels(model, str(version)).observe(rows)
        self.batch_requests.labels(model, str(version)).observe(requests)

    def render(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
