"""Metaflow names Shipyard does not have yet: importable, refused before anything runs.

A flow written for Metaflow imports `conda`, `S3` or `project` from the package it uses; if
those names were missing, changing the import line would end in an `ImportError` that says
nothing about what to do. Here each is a name that imports, and whose use is refused before
a task runs, naming the feature and what to use instead:

- a step decorator (`@conda`, `@pypi`, `@card`, `@secrets`) attaches itself like any other,
  and the graph lint reports it at the step's file and line (`check_available`);
- a class or function (`S3`, `Deployer`) raises `FeatureNotAvailable` when used, and a step
  that refers to one is reported by the same lint, at the line that uses it;
- a flow decorator (`@conda_base`, `@project`, `@schedule`, ...) attaches itself to the
  class, and the same lint reports it at the `class` line.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from shipyard.exceptions import FlowDefinitionError
from shipyard.flow.flow_decorators import FlowDecorator, flow_decorators_of
from shipyard.flow.hooks import StepDecorator
from shipyard.flow.steps import StepDefinition

__all__ = [
    "MISSING_FEATURES",
    "S3",
    "DeployedFlow",
    "Deployer",
    "FeatureNotAvailable",
    "MissingFeature",
    "NBDeployer",
    "card",
    "conda",
    "conda_base",
    "exit_hook",
    "missing_in_flow",
    "missing_in_step",
    "project",
    "pypi",
    "pypi_base",
    "pytorch_parallel",
    "schedule",
    "secrets",
    "trigger",
    "trigger_on_finish",
]


class FeatureNotAvailable(FlowDefinitionError):
    """The flow uses a Metaflow feature that Shipyard does not have (yet)."""


@dataclass(frozen=True)
class MissingFeature:
    """A Metaflow name Shipyard lacks, with what to do instead."""

    #: As written in a flow: `@conda`, `S3`.
    written: str
    #: What a user can do today.
    instead: str
    #: The planned capability that will bring it, if one will.
    planned: str | None = None

    def error(
        self, *, file: str | None = None, line: int | None = None, step: str | None = None
    ) -> FeatureNotAvailable:
        later = f" (planned with {self.planned})" if self.planned else ""
        return FeatureNotAvailable(
            f"{self.written} is a Metaflow feature that Shipyard does not have yet{later}",
            hint=self.instead,
            file=file,
            line=line,
            step=step,
        )


_ENVIRONMENTS = "per-step environments"
_DEPLOYMENTS = "production deployments"
_CARDS = "cards"


class UnavailableStepDecorator(StepDecorator):
    """A step decorator that only marks the step, for the lint to refuse."""

    feature: ClassVar[MissingFeature]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Metaflow's arguments are accepted so that the refusal is the lint's, with its line.
        self.arguments = (args, kwargs)


class UnavailableFlowDecorator(FlowDecorator):
    """A flow decorator that only marks the flow class, for the lint to refuse."""

    feature: ClassVar[MissingFeature]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.arguments = (args, kwargs)


class UnavailableObject:
    """A class or function of Metaflow's that raises `FeatureNotAvailable` when used."""

    feature: ClassVar[MissingFeature]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise self.feature.error()


def _step_decorator(name: str, instead: str, planned: str | None) -> type[UnavailableStepDecorator]:
    feature = MissingFeature(f"@{name}", instead, planned)
    made = type(name, (UnavailableStepDecorator,), {"name": name, "feature": feature})
    return cast(type[UnavailableStepDecorator], made)


def _flow_decorator(name: str, instead: str, planned: str | None) -> type[UnavailableFlowDecorator]:
    feature = MissingFeature(f"@{name}", instead, planned)
    made = type(name, (UnavailableFlowDecorator,), {"name": name, "feature": feature})
    return cast(type[UnavailableFlowDecorator], made)


def _object(name: str, instead: str, planned: str | None) -> type[UnavailableObject]:
    feature = MissingFeature(name, instead, planned)
    return cast(type[UnavailableObject], type(name, (UnavailableObject,), {"feature": feature}))


_PACKAGES = (
    "install the packages into the environment that runs the flow (every task runs in it); "
    "@environment(vars={...}) sets environment variables"
)
_DEPLOY = "run the flow with `python flow.py run` or `Runner` from your own scheduler"

conda = _step_decorator("conda", _PACKAGES, _ENVIRONMENTS)
pypi = _step_decorator("pypi", _PACKAGES, _ENVIRONMENTS)
card = _step_decorator(
    "card", "store what you want to look at as an artifact and read it with the client", _CARDS
)
pytorch_parallel = _step_decorator(
    "pytorch_parallel",
    "use @parallel: current.parallel gives each task its node_index, num_nodes and main_ip "
    "for torch.distributed",
    None,
)
secrets = _step_decorator(
    "secrets",
    "pass secrets as environment variables of the process that runs the flow "
    "(they reach every task) and read them with os.environ",
    None,
)

conda_base = _flow_decorator("conda_base", _PACKAGES, _ENVIRONMENTS)
pypi_base = _flow_decorator("pypi_base", _PACKAGES, _ENVIRONMENTS)
project = _flow_decorator(
    "project", "tag the runs instead (`--tag project:NAME`) and filter with runs(tag)", _DEPLOYMENTS
)
schedule = _flow_decorator("schedule", _DEPLOY, _DEPLOYMENTS)
trigger = _flow_decorator("trigger", _DEPLOY, _DEPLOYMENTS)
trigger_on_finish = _flow_decorator("trigger_on_finish", _DEPLOY, _DEPLOYMENTS)
exit_hook = _flow_decorator(
    "exit_hook", "check the run's status after it ends (`Runner`, the client)", None
)

S3 = _object(
    "S3",
    "point SHIPYARD_DATASTORE at s3://bucket/prefix to keep artifacts in S3, and read other "
    "objects with fsspec (s3fs) or boto3 in the step",
    "team mode",
)
Deployer = _object("Deployer", _DEPLOY, _DEPLOYMENTS)
DeployedFlow = _object("DeployedFlow", _DEPLOY, _DEPLOYMENTS)
NBDeployer = _object("NBDeployer", _DEPLOY, _DEPLOYMENTS)

#: Every missing feature, by the name a flow imports.
MISSING_FEATURES: dict[str, MissingFeature] = {
    kind.__name__: kind.feature
    for kind in (
        conda,
        pypi,
        card,
        pytorch_parallel,
        secrets,
        conda_base,
        pypi_base,
        project,
        schedule,
        trigger,
        trigger_on_finish,
        exit_hook,
        S3,
        Deployer,
        DeployedFlow,
        NBDeployer,
    )
}


def missing_in_flow(flow_class: type) -> Iterator[FeatureNotAvailable]:
    """The missing features among the class's flow decorators, at its `class` line."""
    file, line = None, None
    with contextlib.suppress(OSError, TypeError):
        file, line = inspect.getsourcefile(flow_class), inspect.getsourcelines(flow_class)[1]
    for decorator in flow_decorators_of(flow_class):
        if isinstance(decorator, UnavailableFlowDecorator):
            yield decorator.feature.error(file=file, line=line)


def missing_in_step(definition: StepDefinition) -> Iterator[FeatureNotAvailable]:
    """The missing features a step uses: its unavailable decorators (at the `def` line) and
    every line of its body that refers to an unavailable class (`S3(...)`)."""
    function: Callable[..., Any] = definition.function
    where = {"file": definition.source_file, "step": definition.name}
    for decorator in definition.decorators:
        if isinstance(decorator, UnavailableStepDecorator):
            yield decorator.feature.error(line=definition.first_line, **where)
    for line, kind in _unavailable_references(function):
        yield kind.feature.error(line=line, **where)


def _unavailable_references(function: Callable[..., Any]) -> Iterator[tuple[int, Any]]:
    try:
        lines, first = inspect.getsourcelines(function)
    except (OSError, TypeError):
        return
    names = getattr(function, "__globals__", {})
    tree = ast.parse(textwrap.dedent("".join(lines)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            value = names.get(node.id)
            if isinstance(value, type) and issubclass(value, UnavailableObject):
                yield first + node.lineno - 1, value
