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
from shipyard.flow.current import client_object, current
from shipyard.flow.decorators import (
    StepFailure,
    StepTimeout,
    batch,
    catch,
    environment,
    kubernetes,
    resources,
    retry,
    timeout,
)
from shipyard.flow.include_file import IncludeFile
from shipyard.flow.parallel import parallel
from shipyard.flow.parameters import JSONType, Parameter
from shipyard.flow.spec import FlowSpec, command_line
from shipyard.flow.steps import step
from shipyard.flow.unavailable import (
    S3,
    DeployedFlow,
    Deployer,
    NBDeployer,
    card,
    conda,
    conda_base,
    exit_hook,
    project,
    pypi,
    pypi_base,
    pytorch_parallel,
    schedule,
    secrets,
    trigger,
    trigger_on_finish,
)
from shipyard.lazy import FunctionOverPackage, keep_over_subpackages, lazy_exports

if TYPE_CHECKING:
    from shipyard import experiments
    from shipyard.client import (
        DataArtifact,
        Flow,
        Metaflow,
        Run,
        Step,
        Task,
        default_metadata,
        default_namespace,
        get_metadata,
        get_namespace,
        namespace,
    )
    from shipyard.features import facts
    from shipyard.registry import ModelVersion, models
    from shipyard.runtime.nbrunner import NBRunner
    from shipyard.runtime.runner import ExecutingRun, Runner

__all__ = [
    "S3",
    "Config",
    "DataArtifact",
    "DeployedFlow",
    "Deployer",
    "ExecutingRun",
    "Flow",
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "Metaflow",
    "NBDeployer",
    "NBRunner",
    "Parameter",
    "Run",
    "Runner",
    "ShipyardError",
    "Step",
    "StepFailure",
    "StepTimeout",
    "Task",
    "batch",
    "card",
    "catch",
    "conda",
    "conda_base",
    "config_expr",
    "current",
    "default_metadata",
    "default_namespace",
    "environment",
    "exit_hook",
    "experiments",
    "facts",
    "get_metadata",
    "get_namespace",
    "kubernetes",
    "metadata",
    "models",
    "namespace",
    "parallel",
    "project",
    "pypi",
    "pypi_base",
    "pytorch_parallel",
    "resources",
    "retry",
    "schedule",
    "secrets",
    "step",
    "timeout",
    "trigger",
    "trigger_on_finish",
]

# Metaflow's client function `metadata(...)` shares its name with the `shipyard.metadata`
# package: the root's `metadata` is both (see `FunctionOverPackage`), and stays so when the
# package is first imported.
metadata = FunctionOverPackage("shipyard.metadata", "shipyard.client.stores", "metadata")
keep_over_subpackages(__name__, frozenset({"metadata"}))

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
        "Metaflow": "shipyard.client",
        "get_metadata": "shipyard.client",
        "default_metadata": "shipyard.client",
        "Runner": "shipyard.runtime.runner",
        "ExecutingRun": "shipyard.runtime.runner",
        "NBRunner": "shipyard.runtime.nbrunner",
        "models": "shipyard.registry.models",
        "facts": "shipyard.features.facts",
        "experiments": "shipyard.experiments",
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


def _client_object(pathspec: str) -> Run | Task:
    """The run's own objects, seen whatever namespace the step chose for its other reads."""
    from shipyard.client import Run, Task
    from shipyard.client.namespaces import in_namespace

    with in_namespace(None):
        return Task(pathspec) if pathspec.count("/") == 3 else Run(pathspec)


command_line.install(_run_flow_command_line)
client_object.install(_client_object)
models_of_run.install(_models_of_run)
