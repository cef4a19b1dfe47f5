"""The static DAG of a flow, read from each step's own source before anything runs.

Only the step functions are parsed (never the whole file): the class itself says which
steps exist; the AST of each step says where it goes next and on which line.
"""

from __future__ import annotations

import ast
import enum
import inspect
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from shipyard.flow.steps import StepDefinition, step_definition


class NodeKind(enum.Enum):
    """How a step hands over to the next ones."""

    LINEAR = "linear"
    BRANCH = "branch"
    FOREACH = "foreach"
    END = "end"


@dataclass(frozen=True)
class NextCall:
    """One `self.next(...)` call as written in the source."""

    line: int
    targets: tuple[str, ...]
    foreach: str | None
    problems: tuple[str, ...] = ()


@dataclass
class Node:
    name: str
    definition: StepDefinition
    file: str
    line: int
    next_calls: list[NextCall]
    next_is_last_statement: bool
    in_nodes: list[str] = field(default_factory=list)
    #: Splits (branch or foreach steps) still open when this step runs, outermost first.
    split_parents: list[str] = field(default_factory=list)

    @property
    def is_join(self) -> bool:
        return self.definition.is_join

    @property
    def out(self) -> tuple[str, ...]:
        # With several calls (a lint error) the last one is the edge, so that one mistake
        # does not cascade into reachability errors.
        return self.next_calls[-1].targets if self.next_calls else ()

    @property
    def foreach_var(self) -> str | None:
        return self.next_calls[-1].foreach if self.next_calls else None

    @property
    def kind(self) -> NodeKind:
        if not self.out:
            return NodeKind.END
        if self.foreach_var is not None:
            return NodeKind.FOREACH
        return NodeKind.BRANCH if len(self.out) > 1 else NodeKind.LINEAR

    @property
    def doc(self) -> str:
        return self.definition.docstring


class FlowGraph:
    """Steps in source order with their edges; what the lint checks and the scheduler walks."""

    def __init__(self, flow_class: type) -> None:
        self.flow_name = flow_class.__name__
        self.flow_class = flow_class
        self.file = inspect.getsourcefile(flow_class) or "<unknown>"
        self.nodes: dict[str, Node] = {}
        for definition in sorted(_step_definitions(flow_class), key=lambda d: d.first_line):
            self.nodes[definition.name] = _parse_node(definition)
        # Only steps that can run count as inputs: an orphan step pointing at `end` is its
        # own lint error and must not make `end` look like a join.
        reachable = self.reachable_from_start()
        for node in self.nodes.values():
            for target in node.out if node.name in reachable else ():
                if target in self.nodes:
                    self.nodes[target].in_nodes.append(node.name)

    def reachable_from_start(self) -> set[str]:
        seen: set[str] = set()
        todo = ["start"] if "start" in self.nodes else []
        while todo:
            name = todo.pop()
            if name not in seen and name in self.nodes:
                seen.add(name)
                todo.extend(self.nodes[name].out)
        return seen

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def closed_split(self, join: str) -> str | None:
        """The branch or foreach step that a join closes (the innermost split of its inputs)."""
        node = self.nodes[join]
        if not node.in_nodes:
            return None
        parents = self.nodes[node.in_nodes[0]].split_parents
        return parents[-1] if parents else None

    def topological(self) -> list[Node]:
        """Steps ordered so that each comes after all its inputs (source order breaks ties)."""
        indegree = {n.name: len(n.in_nodes) for n in self}
        ready = [n.name for n in self if indegree[n.name] == 0]
        order: list[Node] = []
        while ready:
            name = ready.pop(0)
            order.append(self.nodes[name])
            for target in self.nodes[name].out:
                if target in indegree:
                    indegree[target] -= 1
                    if indegree[target] == 0:
                        ready.append(target)
        return order


def _step_definitions(flow_class: type) -> Iterator[StepDefinition]:
    seen: set[str] = set()
    for klass in flow_class.__mro__:
        for name, value in vars(klass).items():
            definition = step_definition(value)
            if definition is not None and name not in seen:
                seen.add(name)
                yield definition


def _parse_node(definition: StepDefinition) -> Node:
    lines, first = inspect.getsourcelines(definition.function)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
    offset = first - 1
    calls = [
        _next_call(call, offset)
        for call in ast.walk(function)
        if isinstance(call, ast.Call) and _is_self_next(call.func)
    ]
    calls.sort(key=lambda c: c.line)
    last = function.body[-1]
    next_is_last = (
        isinstance(last, ast.Expr)
        and isinstance(last.value, ast.Call)
        and _is_self_next(last.value.func)
    )
    return Node(
        name=definition.name,
        definition=definition,
        file=definition.source_file,
        line=offset + function.lineno,  # the `def` line, below any decorators
        next_calls=calls,
        next_is_last_statement=next_is_last,
    )


def _is_self_next(func: ast.expr) -> bool:
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "next"
        and isinstance(func.value, ast.Name)
        and func.value.id == "self"
    )


def _next_call(call: ast.Call, offset: int) -> NextCall:
    targets: list[str] = []
    problems: list[str] = []
    for arg in call.args:
        if (
            isinstance(arg, ast.Attribute)
            and isinstance(arg.value, ast.Name)
            and arg.value.id == "self"
        ):
            targets.append(arg.attr)
        else:
            problems.append(f"self.next() takes steps as `self.<step>`, got `{ast.unparse(arg)}`")
    foreach: str | None = None
    for keyword in call.keywords:
        value: Any = keyword.value
        if (
            keyword.arg == "foreach"
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            foreach = value.value
        elif keyword.arg == "foreach":
            problems.append(
                f"foreach= takes the name of an artifact as a string literal, "
                f"got `{ast.unparse(value)}`"
            )
        else:
            problems.append(f"self.next() has no argument `{keyword.arg}`")
    return NextCall(call.lineno + offset, tuple(targets), foreach, tuple(problems))
