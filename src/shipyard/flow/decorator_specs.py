"""`--with NAME:key=value,...`: step decorators attached to every step from the command line.

As in Metaflow: a registry of step decorators by name, values typed by the decorator's
fields (int, float, str, bool; JSON for mappings and lists), and a step that already has a
decorator of that kind keeps its own. The flow is linted again with the attached decorators,
so `--with catch` on a flow with a foreach is refused like `@catch` on the foreach would be.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
import weakref
from collections.abc import Sequence
from copy import copy
from typing import Any

from shipyard.exceptions import DecoratorSpecError, FlowDefinitionError, FlowLintErrors
from shipyard.flow.decorators import (
    batch,
    catch,
    environment,
    kubernetes,
    resources,
    retry,
    timeout,
)
from shipyard.flow.graph import FlowGraph
from shipyard.flow.hooks import StepDecorator
from shipyard.flow.lint import lint
from shipyard.flow.spec import FlowSpec

#: Listed in this order in messages: Shipyard's own, then what Metaflow flows send to a
#: cluster (accepted as resources), then any registered later.
STEP_DECORATORS: dict[str, type[StepDecorator]] = {
    d.name: d for d in (catch, environment, resources, retry, timeout, batch, kubernetes)
}

# A comma starts the next argument only when `key=` follows, so JSON values may hold commas.
_ARGUMENT_SEPARATOR = re.compile(r",(?=\s*\w+\s*=)")
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def register_step_decorator(kind: type[StepDecorator]) -> type[StepDecorator]:
    """Make a step decorator (a dataclass) available to `--with` under its `name`."""
    if not dataclasses.is_dataclass(kind):
        raise TypeError(f"{kind.__name__} must be a dataclass to take `--with` arguments")
    STEP_DECORATORS[kind.name] = kind
    return kind


def parse_decorator_spec(spec: str) -> StepDecorator:
    """`retry:times=2,minutes_between_retries=0.5` -> `retry(times=2, ...)`."""
    name, _, arguments = spec.partition(":")
    kind = STEP_DECORATORS.get(name.strip())
    if kind is None:
        raise DecoratorSpecError(
            f"--with {spec}: unknown step decorator {name.strip()!r}; "
            f"choose one of: {', '.join(STEP_DECORATORS)}"
        )
    types_by_field = typing.get_type_hints(kind)
    fields = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for argument in _ARGUMENT_SEPARATOR.split(arguments) if arguments.strip() else ():
        key, equals, text = argument.partition("=")
        key = key.strip()
        if not equals:
            raise DecoratorSpecError(
                f"--with {spec}: give {key!r} a value, as key=value (several: key=1,key2=2)"
            )
        if key not in fields:
            raise DecoratorSpecError(
                f"--with {spec}: @{kind.name} has no argument {key!r}; "
                f"it takes: {', '.join(sorted(fields)) or 'none'}"
            )
        values[key] = _typed(spec, key, text.strip(), types_by_field[key])
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:
        raise DecoratorSpecError(f"--with {spec}: {exc}") from None


def _typed(spec: str, key: str, text: str, annotation: Any) -> Any:
    """`text` as the field's type: numbers and bools as such, JSON for anything else."""
    options = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    if type(None) in options and text.lower() in {"none", "null"}:
        return None
    wanted = next(o for o in options if o is not type(None))
    try:
        if wanted is bool:
            if text.lower() not in _TRUE | _FALSE:
                raise ValueError(text)
            return text.lower() in _TRUE
        if wanted in (int, float, str):
            return wanted(text)
        value = json.loads(text)
        origin = typing.get_origin(wanted) or wanted
        if isinstance(origin, type) and not isinstance(value, origin):
            raise ValueError(text)
        return value
    except ValueError:
        name = wanted.__name__ if wanted in (int, float, str, bool) else f"JSON {wanted}"
        message = f"--with {spec}: {key} takes a {name} value, got {text!r}"
        raise DecoratorSpecError(message) from None


def _is_union(annotation: Any) -> bool:
    return isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union


def parse_decorator_specs(specs: Sequence[str]) -> list[StepDecorator]:
    """Each spec parsed; one decorator named twice is refused (which would apply?)."""
    decorators = [parse_decorator_spec(spec) for spec in specs]
    names = [d.name for d in decorators]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DecoratorSpecError(
            f"--with names {', '.join(twice)} more than once; give each decorator once, "
            "with all its arguments (name:key=value,key2=value2)"
        )
    return decorators


def graph_with(flow_class: type[FlowSpec], specs: Sequence[str] = ()) -> FlowGraph:
    """The flow's linted graph with the `--with` decorators attached to every step.

    Computed once per flow class and specs: the runner and every task it forks ask for it.
    """
    graph = flow_class.graph()
    key = tuple(specs)
    if not key:
        return graph
    known = _WITH_GRAPHS.setdefault(flow_class, {})
    cached = known.get(key)
    if cached is None or cached[0] is not graph:  # built anew for another configuration
        cached = known[key] = (graph, _attached(graph, parse_decorator_specs(key), key))
    return cached[1]


_WITH_GRAPHS: weakref.WeakKeyDictionary[
    type, dict[tuple[str, ...], tuple[FlowGraph, FlowGraph]]
] = weakref.WeakKeyDictionary()


def _attached(
    graph: FlowGraph, decorators: list[StepDecorator], specs: tuple[str, ...]
) -> FlowGraph:
    decorated = copy(graph)
    decorated.nodes = {
        name: dataclasses.replace(node, definition=node.definition.with_attached(decorators))
        for name, node in graph.nodes.items()
    }
    try:
        lint(decorated)
    except FlowLintErrors as exc:
        given = " ".join(f"--with {spec}" for spec in specs)
        raise FlowLintErrors(
            [
                FlowDefinitionError(
                    error.message,
                    hint=f"{error.hint}; `{given}` attaches to every step, as in Metaflow: "
                    "decorate only the steps that need it instead",
                    file=error.file,
                    line=error.line,
                    step=error.step,
                )
                for error in exc.errors
            ]
        ) from None
    return decorated
