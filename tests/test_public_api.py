"""The public names are a contract: adding or removing one is a decision, made here."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "shipyard": [
        "Config", "DataArtifact", "Flow", "FlowSpec", "IncludeFile", "JSONType", "Parameter", "Run", "Runner",
        "ShipyardError", "Step", "StepFailure", "StepTimeout", "Task", "catch", "config_expr", "current",
        "default_namespace", "environment", "facts", "get_namespace", "models", "namespace",
        "resources", "retry", "step", "timeout",
    ],
    "shipyard.client": [
        "ClientContext", "DataArtifact", "Flow", "Run", "RunStatus", "Step", "Task", "TaskData",
        "TaskStatus", "default_namespace", "flows", "from_pathspec", "get_namespace",
        "in_namespace", "namespace", "runs",
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
