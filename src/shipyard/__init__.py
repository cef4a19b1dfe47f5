"""Shipyard: take an ML project from prototype to production.

The authoring API is imported eagerly (it is small); the client and the runner load on
first use so that `python flow.py show` and the `shipyard` command start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from shipyard.flow.parameters import JSONType, Parameter
from shipyard.flow.spec import FlowSpec
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
    from shipyard.registry import models
    from shipyard.runtime.runner import Runner

__all__ = [
    "DataArtifact",
    "Flow",
    "FlowSpec",
    "JSONType",
    "Parameter",
    "Run",
    "Runner",
    "Step",
    "StepFailure",
    "StepTimeout",
    "Task",
    "catch",
    "current",
    "default_namespace",
    "environment",
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
    },
)
