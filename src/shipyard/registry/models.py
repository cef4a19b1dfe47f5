"""`from shipyard import models`: register, alias, load and inspect models in a few words.

    models.register("ranker", model, metrics={"auc": 0.91})   # inside a step: with lineage
    models.set_alias("ranker", "production", version=3)
    ranker = models.load("ranker@production")            # onto the CPU; device="cuda" for a GPU
    ranker.predict(frame)

Every function opens the registry of the configuration in force (`SHIPYARD_DATASTORE`,
`SHIPYARD_METADATA`), sharing the client's cached stores, so a reloaded configuration (a test,
`Config.reload()`) is picked up by the next call. Inside a running step, `register` records where
the model came from: the flow, run, step and task, the model's artifact hash, and the run's
parameters and code hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shipyard.flow.current import current
from shipyard.registry.refs import ModelRef
from shipyard.registry.registry import (
    AliasEvent,
    Lineage,
    LoadedModel,
    ModelRegistry,
    ModelVersion,
    RegisteredModel,
)
from shipyard.registry.signature import ColumnSpec, Signature, SignatureError

if TYPE_CHECKING:
    import pandas

    from shipyard.client import Run
    from shipyard.features.fitted import FittedFeatureSet

__all__ = [
    "AliasEvent",
    "ColumnSpec",
    "Lineage",
    "LoadedModel",
    "ModelRef",
    "ModelRegistry",
    "ModelVersion",
    "RegisteredModel",
    "Signature",
    "SignatureError",
    "alias_history",
    "delete_alias",
    "feature_set_of",
    "from_run",
    "get",
    "list_models",
    "load",
    "register",
    "register_from_artifact",
    "registry",
    "rollback",
    "set_alias",
    "set_description",
    "set_tags",
    "versions",
]


def registry(*, create: bool = False) -> ModelRegistry:
    """The registry of the current configuration, over the client's shared stores.

    Reading never creates a store; `create=True` (registering a model) may, as a run does.
    """
    from shipyard.client.context import current_context
    from shipyard.config import Config

    context = current_context()
    metadata = context.metadata_for_writing() if create else context.metadata
    # Inside a step, versions and alias moves belong to whoever started the run.
    user = current.username if current.is_running_flow and current.username else None
    return ModelRegistry(metadata, context.artifacts, user=user or Config.current().user)


def register(
    name: str,
    model: Any,
    *,
    flavor: str | None = None,
    signature: Signature | None = None,
    input_example: pandas.DataFrame | None = None,
    metrics: Mapping[str, float] | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    feature_set: FittedFeatureSet | None = None,
) -> ModelVersion:
    """Register `model` as the next version of `name`; see `ModelRegistry.register`.

    Called inside a step, the version's lineage is that task; the model object is also saved
    as an artifact blob so that its hash in the lineage matches what a step assigning it to
    `self` stores.
    """
    reg = registry(create=True)
    lineage = _running_lineage(reg, model) if current.is_running_flow else None
    return reg.register(
        name,
        model,
        flavor=flavor,
        signature=signature,
        input_example=input_example,
        metrics=metrics,
        description=description,
        tags=tags,
        lineage=lineage,
        feature_set=feature_set,
    )


def register_from_artifact(name: str, source: str, **options: Any) -> ModelVersion:
    """Register the artifact `source` (`TrainFlow/12/train/3:model`) of a past run."""
    return registry().register_from_artifact(name, source, **options)


def get(ref: str | ModelRef) -> ModelVersion:
    """The version `ref` names (`ranker`, `ranker/3`, `ranker@production`), without loading it."""
    return registry().resolve(ref)


def feature_set_of(ref: str | ModelRef) -> FittedFeatureSet | None:
    """The fitted feature set version `ref` was trained with, or None; see
    `ModelRegistry.feature_set_of`."""
    return registry().feature_set_of(ref)


def load(ref: str | ModelRef, device: str | None = None) -> LoadedModel:
    """The model `ref` names, loaded and ready to `predict`.

    It loads onto the CPU unless `device` names another (`"cuda"`, `"cuda:1"`), which only
    the pytorch flavor honours; see `ModelRegistry.load_version`.
    """
    return registry().load(ref, device)


def versions(name: str) -> list[ModelVersion]:
    """Every version of model `name`, oldest first."""
    return registry().versions(name)


def from_run(run: Run) -> list[ModelVersion]:
    """The versions registered from `run`, in registration order (what `run.models` lists).

    Read from the stores the run itself was read from, whatever the configuration now.
    """
    registry = ModelRegistry(run.context.metadata, run.context.artifacts)
    return registry.versions_of_run(run.flow_name, run.id)


def list_models() -> list[RegisteredModel]:
    """Every registered model, alphabetically."""
    return registry().list_models()


def set_alias(name: str, alias: str, version: int) -> ModelVersion:
    """Point `name@alias` at `version`, recording who moved it when."""
    return registry().set_alias(name, alias, version)


def delete_alias(name: str, alias: str) -> int | None:
    """Remove `name@alias` (the removal is kept in its history); return the version it pointed
    at, or None when it was not set."""
    return registry().delete_alias(name, alias)


def rollback(name: str, alias: str) -> ModelVersion:
    """Move `name@alias` back to the version it pointed at before its last move."""
    return registry().rollback(name, alias)


def alias_history(name: str, alias: str) -> list[AliasEvent]:
    """Every move of `name@alias`, oldest first."""
    return registry().alias_history(name, alias)


def set_description(ref: str | ModelRef, description: str) -> None:
    """Describe a model (`ranker`) or a version (`ranker/3`)."""
    registry().set_description(ref, description)


def set_tags(ref: str | ModelRef, tags: Mapping[str, str]) -> None:
    """Replace the tags of a model (`ranker`) or a version (`ranker/3`)."""
    registry().set_tags(ref, tags)


def _running_lineage(reg: ModelRegistry, model: Any) -> Lineage:
    """The lineage of a model registered by the running task."""
    from shipyard.client.context import current_context

    context = current_context()
    task = current.identity
    assert task is not None, "only called inside a running task"
    artifact = context.artifacts.save(model)
    run = context.metadata.get_run(task.flow_name, task.run_id)
    return Lineage(
        flow_name=task.flow_name,
        run_id=task.run_id,
        step_name=task.step_name,
        task_id=task.task_id,
        artifact_name=None,
        artifact_sha256=artifact.sha256,
        parameters=dict(run.parameters),
        code_hash=run.code_hash,
    )
