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

from shipyard.exceptions import StepTransitionError
from shipyard.flow.steps import StepDefinition, step_definition


class NodeKind(enum.Enum):
    """How a step hands over to the next ones."""

    LINEAR = "linear"
    BRANCH = "branch"
    FOREACH = "foreach"
    #: `self.next({"a": self.a, "b": self.b}, condition="x")`: one of the steps runs, chosen
    #: by the value of artifact `x`; the branches meet again without a join.
    SWITCH = "switch"
    #: `self.next(self.train, num_parallel=N)`: a gang of N tasks of a `@parallel` step.
    PARALLEL = "parallel"
    END = "end"

    @property
    def fans_out(self) -> bool:
        """Runs the next step once per element (foreach) or per gang member (parallel)."""
        return self in (NodeKind.FOREACH, NodeKind.PARALLEL)

    @property
    def opens_split(self) -> bool:
        """Starts tasks that a join must gather."""
        return self.fans_out or self is NodeKind.BRANCH


@dataclass(frozen=True)
class NextCall:
    """One `self.next(...)` call as written in the source."""

    line: int
    targets: tuple[str, ...]
    foreach: str | None
    problems: tuple[str, ...] = ()
    #: For a conditional transition: the artifact whose value chooses, and value -> step.
    condition: str | None = None
    cases: tuple[tuple[Any, str], ...] = ()
    #: `num_parallel=` was given; its value when it is a literal (else known at run time).
    parallel: bool = False
    num_parallel: int | None = None


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
    def num_parallel(self) -> int | None:
        """The gang size of a parallel split, when the source gives it as a literal."""
        return self.next_calls[-1].num_parallel if self.next_calls else None

    @property
    def condition(self) -> str | None:
        """The artifact whose value chooses the next step of a switch."""
        return self.next_calls[-1].condition if self.next_calls else None

    @property
    def cases(self) -> dict[Any, str]:
        """A switch's step for each value of its condition."""
        return dict(self.next_calls[-1].cases) if self.next_calls else {}

    def chosen_step(self, value: Any) -> str:
        """The step a switch's condition `value` chooses, or a `StepTransitionError` that
        names the values the transition knows."""
        cases = self.cases
        try:
            return cases[value]
        except (KeyError, TypeError):
            known = ", ".join(repr(key) for key in cases)
            raise StepTransitionError(
                f"step '{self.name}' chooses its next step by '{self.condition}', which is "
                f"{value!r}; the transition knows only {known}: set '{self.condition}' to one "
                "of them, or add a branch for this value"
            ) from None

    @property
    def kind(self) -> NodeKind:
        if not self.out:
            return NodeKind.END
        if self.foreach_var is not None:
            return NodeKind.FOREACH
        if self.next_calls[-1].parallel:
            return NodeKind.PARALLEL
        if self.condition is not None:
            return NodeKind.SWITCH
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
        self._descendants: dict[str, frozenset[str]] = {}
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

    def convergence(self, switch: str) -> str | None:
        """Where a switch's branches meet again: the first step (in topological order) that
        every branch reaches; None if they never meet (a lint error)."""
        reached = [self.descendants(target) for target in self.nodes[switch].out]
        common = frozenset.intersection(*reached) if reached else frozenset()
        return next((n.name for n in self.topological() if n.name in common), None)

    def descendants(self, origin: str) -> frozenset[str]:
        """`origin` and every step after it (kept: the scheduler asks at every branch join)."""
        known = self._descendants.get(origin)
        if known is None:
            seen = {origin}
            todo = [origin]
            while todo:
                for target in self.nodes[todo.pop()].out:
                    if target in self.nodes and target not in seen:
                        seen.add(target)
                        todo.append(target)
            known = self._descendants[origin] = frozenset(seen)
        return known

    def branch_index(self, split: str, step: str) -> int:
        """Which branch of the branch step `split` leads to `step` (a switch inside a branch
        may make several steps arrive at its join for one branch)."""
        out = self.nodes[split].out
        return next((i for i, t in enumerate(out) if step in self.descendants(t)), -1)

    def switch_alternatives(self, switch: str) -> set[str]:
        """The switch and the steps on its branches before they meet: of these, only the
        steps of the branch taken run."""
        meet = self.convergence(switch)
        inside: set[str] = set().union(*(self.descendants(t) for t in self.nodes[switch].out))
        return {switch} | (inside - self.descendants(meet) if meet else inside)

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


def _step_name(node: ast.expr) -> str | None:
    """`self.train` -> "train"; anything else is not a step reference."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr if node.value.id == "self" else None
    return None


def _next_call(call: ast.Call, offset: int) -> NextCall:
    targets: list[str] = []
    problems: list[str] = []
    cases: list[tuple[Any, str]] = []
    for arg in call.args:
        if isinstance(arg, ast.Dict):
            cases.extend(_switch_cases(arg, problems))
        elif (name := _step_name(arg)) is not None:
            targets.append(name)
        else:
            problems.append(f"self.next() takes steps as `self.<step>`, got `{ast.unparse(arg)}`")
    keywords = {k.arg: k.value for k in call.keywords}
    size = keywords.pop("num_parallel", None)
    literal_size = size.value if isinstance(size, ast.Constant) else None
    if size is not None and not (literal_size is None or type(literal_size) is int):
        problems.append(f"num_parallel= takes a number of tasks, got `{ast.unparse(size)}`")
    foreach = _artifact_name(keywords.pop("foreach", None), "foreach", problems)
    condition = _artifact_name(keywords.pop("condition", None), "condition", problems)
    problems.extend(f"self.next() has no argument `{name}`" for name in keywords)
    if size is not None and (len(targets) != 1 or cases or foreach is not None):
        problems.append(
            "a parallel transition starts one @parallel step: "
            "self.next(self.<step>, num_parallel=<N>)"
        )
    if cases and (targets or len(call.args) > 1 or condition is None):
        problems.append(
            "a conditional transition is one dict and its condition: "
            'self.next({"a": self.a, "b": self.b}, condition="<artifact>")'
        )
    elif condition is not None and not cases:
        problems.append('condition= goes with a dict of steps: self.next({...}, condition="x")')
    targets.extend(dict.fromkeys(step for _, step in cases))
    return NextCall(
        call.lineno + offset,
        tuple(targets),
        foreach,
        tuple(problems),
        condition if cases else None,
        tuple(cases),
        parallel=size is not None,
        num_parallel=literal_size if type(literal_size) is int else None,
    )


def _artifact_name(value: ast.expr | None, keyword: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    problems.append(
        f"{keyword}= takes the name of an artifact as a string literal, got `{ast.unparse(value)}`"
    )
    return None


def _switch_cases(cases: ast.Dict, problems: list[str]) -> Iterator[tuple[Any, str]]:
    """The value -> step pairs of a conditional transition's dict literal."""
    for key, value in zip(cases.keys, cases.values, strict=True):
        step = _step_name(value)
        if isinstance(key, ast.Constant) and step is not None:
            yield key.value, step
        else:
            shown = "**" if key is None else ast.unparse(key)
            problems.append(
                "a conditional transition maps literal values to steps, as "
                f'{{"value": self.<step>}}; got `{shown}: {ast.unparse(value)}`'
            )
