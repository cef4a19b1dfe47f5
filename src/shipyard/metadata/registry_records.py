"""Plain, immutable records of the model registry's rows, as every `ModelRegistryStore` returns
them; the registry package turns them into its user-facing types (signatures, lineage)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "FEATURE_SET_KEY",
    "AliasEventRecord",
    "LineageRecord",
    "ModelRecord",
    "ModelVersionRecord",
]

#: The key of a version's `environment` that names the feature set it was trained with:
#: `{"name": ..., "version": ..., "sha256": <blob of the fitted state>, "snapshot": <blob of
#: the training snapshot, if any>}`. Garbage collection keeps those blobs for as long as the
#: version exists.
FEATURE_SET_KEY = "feature_set"


@dataclass(frozen=True)
class LineageRecord:
    """Where a version came from: the task that produced it and the run's inputs."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    artifact_name: str | None
    artifact_sha256: str | None
    parameters: dict[str, Any]
    code_hash: str | None


@dataclass(frozen=True)
class ModelVersionRecord:
    """One stored version, exactly as its row holds it."""

    model_name: str
    version: int
    created_at: datetime
    user: str
    flavor: str
    payload_sha256: str
    payload_size: int
    signature: dict[str, Any] | None
    metrics: dict[str, float]
    description: str
    tags: dict[str, str]
    lineage: LineageRecord | None
    environment: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelRecord:
    """A registered model with its current aliases and newest version number."""

    name: str
    created_at: datetime
    user: str
    description: str
    tags: dict[str, str]
    latest_version: int | None
    aliases: dict[str, int]


@dataclass(frozen=True)
class AliasEventRecord:
    """One alias move; `from_version` is None when the alias was created, `to_version` when
    it was deleted."""

    model_name: str
    alias: str
    from_version: int | None
    to_version: int | None
    user: str
    at: datetime
