"""Graph lint: every structural mistake is reported before a single task runs.

Each rule is a small function yielding `FlowDefinitionError`s that name the file, the line,
the step and a fix, so that all problems can be shown in one pass.

One mistake is one error: where a step's transition is already reported as broken (no
`self.next`, a malformed one, a cycle), the rules that follow edges do not also report what
only that unknown edge explains ('end' never reached, a join missing that branch's input).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from shipyard.exceptions import FlowDefinitionError, FlowLintErrors
from shipyard.flow.graph import FlowGraph, Node, NodeKind

Rule = Callable[[FlowGraph], Iterator[FlowDefinitionError]]


def _error(node: Node, message: str, hint: str, line: int | None = None) -> FlowDefinitionError:
    return FlowDefinitionError(
        message, hint=hint, file=node.file, line=line or node.line, step=node.name
    )


def check_start_and_end(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    for name in ("start", "end"):
        if name not in graph:
            yield FlowDefinitionError(
                f"the flow has no '{name}' step",
                hint=f"add a method `def {name}(self)` decorated with @step",
                file=graph.file,
            )
    if "start" in graph and graph["start"].is_join:
        yield _error(graph["start"], "'start' cannot take inputs", "define it as `def start(self)`")


def check_next_calls(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    for node in graph:
        if node.name == "end":
            if node.next_calls:
                yield _error(
                    node,
                    "'end' must not call self.next()",
                    "'end' is the last step; remove the call",
                    node.next_calls[0].line,
                )
            continue
        if not node.next_calls:
            yield _error(
                node,
                "the step never calls self.next()",
                "end the step with `self.next(self.<following step>)`",
            )
            continue
        if len(node.next_calls) > 1:
            lines = ", ".join(str(c.line) for c in node.next_calls)
            yield _error(
                node,
                f"self.next() is called {len(node.next_calls)} times (lines {lines})",
                "call self.next() exactly once; use a branch (self.next(self.a, self.b)) "
                "to run several steps",
                node.next_calls[1].line,
            )
            continue
        call = node.next_calls[0]
        for problem in call.problems:
            yield _error(node, problem, "write e.g. `self.next(self.train)`", call.line)
        if not node.next_is_last_statement:
            yield _error(
                node,
                "self.next() must be the last statement of the step",
                "move the call to the end of the method; to choose the next step by data, use "
                'self.next({"a": self.a, "b": self.b}, condition="<artifact>")',
                call.line,
            )
        if call.foreach is not None and len(call.targets) != 1:
            yield _error(
                node,
                "a foreach fans out to exactly one step",
                'write `self.next(self.<step>, foreach="<artifact>")`',
                call.line,
            )
        if not call.targets and not call.problems:
            yield _error(node, "self.next() names no step", "pass the step to run next", call.line)


def check_names_resolve(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    for node in graph:
        for target in node.out:
            if target not in graph:
                known = ", ".join(graph.nodes)
                yield _error(
                    node,
                    f"self.next() refers to '{target}', which is not a step of the flow",
                    f"define `{target}` with @step or use one of: {known}",
                    node.next_calls[0].line,
                )


def _has_unresolved_names(graph: FlowGraph) -> bool:
    return any(target not in graph for node in graph for target in node.out)


def _broken_steps(graph: FlowGraph) -> set[str]:
    """Steps whose way on is already reported as wrong, so where they lead is unknown: no
    `self.next()` outside 'end', a malformed one, or a place in a cycle."""
    broken = {
        node.name
        for node in graph
        if node.name != "end"
        and (not node.next_calls or node.next_calls[-1].problems or not node.next_calls[-1].targets)
    }
    return broken | set(find_cycle(graph) or ())


def check_reachability(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    # With a misspelt target, "unreachable" would only echo that one mistake.
    if "start" not in graph or "end" not in graph or _has_unresolved_names(graph):
        return
    broken = _broken_steps(graph)
    reached = graph.reachable_from_start()
    if reached & broken:
        # A broken step that runs might have been meant to lead to any step: none is
        # known to be unreachable until it is fixed.
        reached = set(graph.nodes)
    # A broken step counts as leading to 'end': whatever it was meant to call would.
    reaches_end = set().union(
        *(_closure(graph, name, lambda n: tuple(n.in_nodes)) for name in {"end", *broken})
    )
    for node in graph:
        if node.name not in reached:
            yield _error(
                node,
                "the step is never reached from 'start'",
                f"call self.next(self.{node.name}) from an earlier step, or remove it",
            )
        elif node.name not in reaches_end:
            yield _error(
                node,
                "the step never leads to 'end'",
                "make every path end in the 'end' step",
            )


def _closure(graph: FlowGraph, origin: str, edges: Callable[[Node], tuple[str, ...]]) -> set[str]:
    seen = {origin}
    todo = [origin]
    while todo:
        for target in edges(graph[todo.pop()]):
            if target in graph and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def find_cycle(graph: FlowGraph) -> list[str] | None:
    """One cycle as a list of step names, or None; a DAG is required to schedule the flow."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in graph[name].out:
            if target not in graph:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for node in graph:
        if node.name not in state and (cycle := visit(node.name)):
            return cycle
    return None


def check_no_cycles(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    cycle = find_cycle(graph)
    if cycle:
        node = graph[cycle[-2]]
        yield _error(
            node,
            "the flow has a cycle: " + " -> ".join(cycle),
            "flows are DAGs; loop inside a step or use foreach instead",
            node.next_calls[0].line if node.next_calls else None,
        )


def check_splits_are_joined(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    """Assign each step its open splits and check that joins close exactly one of them."""
    if "start" not in graph or find_cycle(graph) is not None or _has_unresolved_names(graph):
        return
    assigned: dict[str, list[str]] = {"start": []}
    for node in graph.topological():
        node.split_parents = assigned.get(node.name, [])
        opened = [*node.split_parents]
        if node.kind.opens_split:
            opened.append(node.name)
        for target_name in node.out:
            if target_name not in graph:
                continue
            target = graph[target_name]
            if target.is_join and node.kind.opens_split:
                yield _error(
                    target,
                    f"the join is the direct target of the split '{node.name}'",
                    "put at least one step between a branch or foreach and its join",
                )
                continue
            if target.is_join and not opened:
                yield _error(
                    target,
                    "the step takes `inputs` but there is no branch or foreach to join",
                    f"define it as `def {target.name}(self)`",
                )
                continue
            expected = opened[:-1] if target.is_join else opened
            if target_name not in assigned:
                assigned[target_name] = expected
            elif assigned[target_name] != expected:
                yield _error(
                    target,
                    f"the step is reached from {', '.join(target.in_nodes)}, which sit in "
                    "different branches or foreach levels",
                    "join the inner branches first, then join the result",
                )
    yield from _check_joins(graph)


def _check_joins(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    for node in graph:
        if len(node.in_nodes) > 1 and not node.is_join and not _switch_meets_at(graph, node):
            yield _error(
                node,
                f"the step is reached from {', '.join(node.in_nodes)} but does not take inputs",
                f"make it a join: `def {node.name}(self, inputs)`",
            )
        if node.is_join and node.in_nodes:
            closed = graph.closed_split(node.name)
            if (
                closed
                and graph[closed].kind is NodeKind.BRANCH
                and not _broken_between(graph, closed, node.name)
            ):
                branches = len(graph[closed].out)
                # Steps of one branch that are a switch's alternatives bring one input.
                arriving = len({graph.branch_index(closed, n) for n in node.in_nodes})
                if arriving != branches:
                    yield _error(
                        node,
                        f"the join receives {arriving} input(s) but '{closed}' opens "
                        f"{branches} branches",
                        "make every branch of the split lead to this join",
                    )
        if node.name == "end" and node.split_parents:
            split = graph[node.split_parents[-1]]
            yield _error(
                split,
                "the branches or foreach opened here are never joined",
                "add a join step (`def join(self, inputs)`) before 'end'",
                split.next_calls[0].line if split.next_calls else None,
            )


def _switch_meets_at(graph: FlowGraph, node: Node) -> bool:
    """Whether every input of `node` is an alternative of one switch that meets there: only
    one of them runs, so the step needs no `inputs`."""
    return any(
        graph.convergence(switch.name) == node.name
        and set(node.in_nodes) <= graph.switch_alternatives(switch.name)
        for switch in graph
        if switch.kind is NodeKind.SWITCH
    )


def check_switches(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    """A conditional transition's branches must meet again (at a step, a join or 'end')."""
    if "start" not in graph or find_cycle(graph) is not None or _has_unresolved_names(graph):
        return
    for node in graph:
        if node.kind is not NodeKind.SWITCH:
            continue
        call = node.next_calls[-1]
        if len(call.cases) != len(dict(call.cases)):
            yield _error(
                node,
                "the conditional transition names one value twice",
                "give each value of the condition one step",
                call.line,
            )
        if len(node.out) < 2:
            yield _error(
                node,
                "a conditional transition needs at least two different steps",
                f"call self.next(self.{node.out[0]}) if there is nothing to choose",
                call.line,
            )
        elif graph.convergence(node.name) is None and not (
            _broken_steps(graph) & graph.switch_alternatives(node.name)
        ):
            yield _error(
                node,
                f"the branches of the condition on '{node.condition}' never meet again",
                "make every branch reach the same step, join or 'end'",
                call.line,
            )


def check_parallel_steps(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    """`num_parallel` starts a `@parallel` step, and a `@parallel` step is only started so."""
    from shipyard.flow.parallel import parallel

    for node in graph:
        size = node.num_parallel if node.kind is NodeKind.PARALLEL else None
        if size is not None and size < 1:
            yield _error(
                node,
                f"num_parallel={size} starts no task",
                "give num_parallel a number of tasks, 1 or more",
                node.next_calls[-1].line,
            )
        if node.definition.decorator(parallel) is None:
            continue
        starters = [graph[name] for name in node.in_nodes]
        if not starters or any(s.kind is not NodeKind.PARALLEL for s in starters):
            yield _error(
                node,
                "a @parallel step must be started with num_parallel",
                f"call self.next(self.{node.name}, num_parallel=<N>) from the step before it",
            )
    for node in graph:
        if node.kind is NodeKind.PARALLEL and node.out[0] in graph:
            target = graph[node.out[0]]
            if target.definition.decorator(parallel) is None:
                yield _error(
                    target,
                    f"'{node.name}' starts the step with num_parallel but it is not @parallel",
                    f"decorate `{target.name}` with @parallel",
                )


def _broken_between(graph: FlowGraph, split: str, join: str) -> bool:
    """Whether a broken step inside the split may be the branch the join is missing."""
    inside = _closure(graph, split, lambda n: n.out) - _closure(graph, join, lambda n: n.out)
    return bool(inside & _broken_steps(graph))


def check_decorators(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    from shipyard.flow.decorators import catch

    for node in graph:
        if node.definition.decorator(catch) is None:
            continue
        if node.kind.fans_out:
            yield _error(
                node,
                f"@catch cannot be used on a step that starts a {node.kind.value}",
                "if the step fails, the width of the fan-out is unknown; move the risky work "
                "into a step before it",
            )
        elif node.kind is NodeKind.SWITCH:
            yield _error(
                node,
                "@catch cannot be used on a step with a conditional transition",
                "if the step fails, the branch to take is unknown; move the risky work "
                "into a step before it",
            )


def check_available(graph: FlowGraph) -> Iterator[FlowDefinitionError]:
    """Metaflow features Shipyard lacks (`@conda`, `S3`, `@project`) are refused at the line
    using them."""
    from shipyard.flow.unavailable import missing_in_flow, missing_in_step

    yield from missing_in_flow(graph.flow_class)
    for node in graph:
        yield from missing_in_step(node.definition)


RULES: tuple[Rule, ...] = (
    check_available,
    check_start_and_end,
    check_next_calls,
    check_names_resolve,
    check_no_cycles,
    check_reachability,
    check_splits_are_joined,
    check_switches,
    check_parallel_steps,
    check_decorators,
)


def lint(graph: FlowGraph) -> None:
    """Raise `FlowLintErrors` with every problem found, or return if the flow is sound."""
    errors = [error for rule in RULES for error in rule(graph)]
    if errors:
        raise FlowLintErrors(errors)
