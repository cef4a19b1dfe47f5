"""Shipyard: take an ML project from prototype to production.

The authoring API is imported eagerly (it is small); the client and the runner load on
first use so that `python flow.py show` and the `shipyard` command start fast.

The root sits above every layer, so it is also where the few upward calls are wired: the
command line of flow files and the model registry's view of a run (see `shipyard.plugs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.client.related import models_of_run
from shipyard.exceptions import ShipyardError
from shipyard.flow.configs import Config, config_expr
from shipyard.flow.current import current
from shipyard.flow.decorators import (
    StepFailure,
    StepTimeout,
    catch,
    environment,
    resources,
    retry,
    timeout,
)
from shipyard.flow.include_file import IncludeFile
from shipyard.flow.parameters import JSONType, Parameter
from shipyard.flow.spec import FlowSpec, command_line
from shipyard.flow.steps import step
from shipyard.lazy import lazy_exports

if TYPE_CHECKING:
    from shipyard.client import (
        DataArtifact,
        Flow,
        Run,
        Step,
        Task,
        default_namespace,
        get_namespace,
        namespace,
    )
    from shipyard.features import facts
    from shipyard.registry import ModelVersion, models
    from shipyard.runtime.runner import Runner

__all__ = [
    "Config",
    "DataArtifact",
    "Flow",
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "Parameter",
    "Run",
    "Runner",
    "ShipyardError",
    "Step",
    "StepFailure",
    "StepTimeout",
    "Task",
    "catch",
    "config_expr",
    "current",
    "default_namespace",
    "environment",
    "facts",
    "get_namespace",
    "models",
    "namespace",
    "resources",
    "retry",
    "step",
    "timeout",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "DataArtifact": "shipyard.client",
        "Flow": "shipyard.client",
        "Run": "shipyard.client",
        "Step": "shipyard.client",
        "Task": "shipyard.client",
        "namespace": "shipyard.client",
        "get_namespace": "shipyard.client",
        "default_namespace": "shipyard.client",
        "Runner": "shipyard.runtime.runner",
        "models": "shipyard.registry.models",
        "facts": "shipyard.features.facts",
    },
)


# The upward calls, plugged in here; each imports its package on first use (click and rich,
# SQLAlchemy), which keeps `import shipyard` as light as the authoring API.
def _run_flow_command_line(flow_class: type[FlowSpec]) -> None:
    from shipyard.cli.flow_cli import run_flow_cli

    run_flow_cli(flow_class)


def _models_of_run(run: Run) -> list[ModelVersion]:
    from shipyard.registry.models import from_run

    return from_run(run)


command_line.install(_run_flow_command_line)
models_of_run.install(_models_of_run)
