"""The public names are a contract: adding or removing one is a decision, made here."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "shipyard": [
        "Config", "DataArtifact", "Flow", "FlowSpec", "IncludeFile", "JSONType", "Parameter",
        "Run", "Runner", "ShipyardError", "Step", "StepFailure", "StepTimeout", "Task", "batch",
        "catch", "config_expr", "current", "default_namespace", "environment", "experiments",
        "facts", "get_namespace", "kubernetes", "models", "namespace", "parallel", "resources",
        "retry", "step", "timeout",
        # Metaflow parity: the Runner API, the client's entry points, and the Metaflow names
        # Shipyard lacks, importable and refused before a run (shipyard.flow.unavailable).
        "ExecutingRun", "NBRunner", "Metaflow", "metadata", "get_metadata", "default_metadata",
        "S3", "Deployer", "DeployedFlow", "NBDeployer", "card", "conda", "conda_base",
        "exit_hook", "project", "pypi", "pypi_base", "pytorch_parallel", "schedule", "secrets",
        "trigger", "trigger_on_finish",
    ],
    "shipyard.client": [
        "ClientContext", "DataArtifact", "Flow", "Run", "RunStatus", "Step", "Task", "TaskData",
        "TaskStatus", "default_namespace", "flows", "from_pathspec", "get_namespace",
        "in_namespace", "namespace", "runs",
        "Metaflow", "TaskArtifacts", "default_metadata", "get_metadata", "metadata",
    ],
    "shipyard.experiments": [
        "Allocation", "AllocationError", "CellRecord", "ExperimentDefinitionError",
        "ExperimentEventRecord", "ExperimentRecord", "ExperimentState", "Experiments",
        "SampleRatioMismatch", "allocation", "analyze", "assign", "create", "get", "history",
        "list_experiments", "manager", "start", "stop", "update",
    ],
    "shipyard.flow.flow_decorators": ["FlowDecorator", "RunStartContext"],
    "shipyard.flow.hooks": [
        "CatchFailure", "FailureContext", "FailureDecision", "GiveUp", "LaunchContext",
        "RetryTask", "StepContext", "StepDecorator", "StepFailure", "TaskFinishedContext",
        "TaskOutcome",
    ],
    "shipyard.registry": [
        "AliasEvent", "ColumnSpec", "FeatureSetRef", "Lineage", "LoadedModel",
        "ModelEnvironmentWarning",
        "ModelRef", "ModelRegistry", "ModelVersion", "RegisteredModel", "Signature",
        "SignatureError",
    ],
}  # fmt: skip


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_exported_names_are_exactly_the_public_api(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{module_name}.{name} does not resolve"
