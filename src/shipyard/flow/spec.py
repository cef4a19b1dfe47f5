"""`FlowSpec`: the base class of every flow, and the read-only views a join step receives."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from shipyard.config import Config
from shipyard.datastore.refs import ArtifactRef
from shipyard.exceptions import ArtifactNotFound, MergeArtifactsError
from shipyard.flow.configs import bound_configs, configs_of, configured
from shipyard.flow.flow_decorators import FlowDecorator, flow_decorators_of
from shipyard.flow.graph import FlowGraph
from shipyard.flow.lint import lint
from shipyard.flow.parameters import Parameter
from shipyard.flow.scope import ArtifactScope, ArtifactSource, Transition, scope_of
from shipyard.plugs import Plug

_RESERVED = frozenset({"next", "input", "index", "foreach_stack", "merge_artifacts", "name"})

#: What `MyFlow()` runs in a flow file: parse the command line (`run`, `show`, ...) for the
#: class and run the command. The command line sits above this layer, in `shipyard.cli`.
command_line: Plug[[type[FlowSpec]], None] = Plug("the command line of flow files")


class FlowSpec:
    """Subclass it, add `@step` methods from `start` to `end`, and call `MyFlow()` under main.

    Every public attribute a step assigns to `self` becomes a versioned artifact; names
    starting with an underscore stay private to the task.
    """

    def __init__(self, use_cli: bool = True) -> None:
        if use_cli:
            command_line(type(self))

    # -- class-level structure -------------------------------------------------------------
    @classmethod
    def graph(cls) -> FlowGraph:
        """The linted DAG of this flow; raises `FlowLintErrors` listing every problem.

        Decorator arguments taken from a `Config` are evaluated with the configuration bound
        to the class (`flow.configs`); the graph is built again only if that changes.
        """
        configs = bound_configs(cls, Config.current().user) if configs_of(cls) else None
        cached = _GRAPHS.get(cls)
        if cached is not None and cached[0] is configs:
            return cached[1]
        graph = FlowGraph(cls)
        if configs is not None:
            for name, node in graph.nodes.items():
                definition = node.definition
                decorators = configured(
                    definition.own_decorators, configs, name, node.file, node.line
                )
                node.definition = definition.with_configured(decorators)
        lint(graph)
        _GRAPHS[cls] = (configs, graph)
        return graph

    @classmethod
    def parameters(cls) -> dict[str, Parameter]:
        found: dict[str, Parameter] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if isinstance(value, Parameter):
                    found[value.name] = value
        return found

    @classmethod
    def flow_decorators(cls) -> tuple[FlowDecorator, ...]:
        """Flow decorators (`@project`, `@schedule`, ...) in the order they were applied."""
        return flow_decorators_of(cls)

    @property
    def name(self) -> str:
        return type(self).__name__

    # -- artifacts -------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the name is an artifact from upstream.
        scope = scope_of(self)
        if scope is None or name.startswith("__"):
            raise AttributeError(name)
        value = scope.load(name)
        object.__setattr__(self, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _RESERVED or callable(getattr(type(self), name, None)):
            raise AttributeError(
                f"'{name}' is a method or reserved name of the flow; "
                "store the value under another artifact name"
            )
        object.__setattr__(self, name, value)
        scope = scope_of(self)
        if scope is not None:
            scope.note_assigned(name)

    # -- transitions -----------------------------------------------------------------------
    def next(
        self,
        *steps: Any,
        foreach: str | None = None,
        condition: str | None = None,
        num_parallel: int | None = None,
    ) -> None:
        """Say which step(s) run after this one.

        `foreach="items"` runs one task per element; `self.next({"a": self.a, "b": self.b},
        condition="choice")` runs only the step the value of artifact `choice` names;
        `num_parallel=N` starts a gang of N tasks of a `@parallel` step together.
        """
        chosen = [s for s in steps if isinstance(s, dict)]
        named = [step for cases in chosen for step in cases.values()] + [
            s for s in steps if not isinstance(s, dict)
        ]
        names = tuple(dict.fromkeys(getattr(s, "__name__", str(s)) for s in named))
        self._require_scope().record_next(Transition(names, foreach, condition, num_parallel))

    @property
    def input(self) -> Any:
        """The element of the foreach this task was given."""
        return self._require_scope().input

    @property
    def index(self) -> int | None:
        """The position of `input` in the foreach list."""
        return self._require_scope().index

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """(index, number of splits, value) for each enclosing foreach, outermost first."""
        return self._require_scope().foreach_stack()

    def _require_scope(self) -> ArtifactScope:
        scope = scope_of(self)
        if scope is None:
            raise RuntimeError("this method is only available inside a running step")
        return scope

    def merge_artifacts(
        self,
        inputs: Inputs,
        exclude: Sequence[str] = (),
        include: Sequence[str] = (),
    ) -> None:
        """Carry over artifacts on which all inputs agree into this join step.

        An artifact with different values in different inputs must be resolved by assigning
        it before the call (or excluded); otherwise the merge fails and names it.
        """
        scope = self._require_scope()
        excluded = set(exclude)
        wanted = set(include)
        candidates: dict[str, list[InputView]] = {}
        for view in inputs:
            for artifact in view.artifact_names():
                if artifact in scope.parameter_names or artifact in excluded:
                    continue
                if wanted and artifact not in wanted:
                    continue
                candidates.setdefault(artifact, []).append(view)
        missing = wanted - set(candidates)
        if missing:
            raise MergeArtifactsError(
                f"merge_artifacts(include=...) names {sorted(missing)}, which no input has"
            )
        conflicts = []
        for artifact, views in candidates.items():
            if artifact in self.__dict__:
                continue  # resolved by the join itself
            if len({v.artifact_ref(artifact).sha256 for v in views}) > 1:
                conflicts.append(artifact)
                continue
            scope.inherit_ref(artifact, views[0].artifact_ref(artifact))
        if conflicts:
            raise MergeArtifactsError(
                f"cannot merge artifact(s) {', '.join(sorted(conflicts))}: the inputs hold "
                "different values. Assign them in the join before calling merge_artifacts, "
                f"or pass exclude={sorted(conflicts)!r}"
            )


# A flow class's graph changes only with its configuration; lint it once per configuration.
_GRAPHS: weakref.WeakKeyDictionary[type, tuple[dict[str, Any] | None, FlowGraph]] = (
    weakref.WeakKeyDictionary()
)


class InputView:
    """One upstream task as a join step sees it: its artifacts, loaded on first access."""

    def __init__(self, step_name: str, pathspec: str, source: ArtifactSource) -> None:
        self._step_name = step_name
        self._pathspec = pathspec
        self._source = source

    @property
    def pathspec(self) -> str:
        return self._pathspec

    @property
    def step_name(self) -> str:
        return self._step_name

    def artifact_names(self) -> list[str]:
        return list(self._source.names())

    def artifact_ref(self, name: str) -> ArtifactRef:
        return self._source.ref(name)

    @property
    def input(self) -> Any:
        return self._source.input

    @property
    def index(self) -> int | None:
        return self._source.index

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = self._source.load(name)
        setattr(self, name, value)
        return value

    def __repr__(self) -> str:
        return f"<input {self._pathspec}>"


class Inputs:
    """The inputs of a join step: iterate over them, index them, or pick one by step name."""

    def __init__(self, views: Sequence[InputView]) -> None:
        self._views = list(views)
        self._by_step = {v.step_name: v for v in self._views}

    def __iter__(self) -> Iterator[InputView]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __getitem__(self, index: int) -> InputView:
        return self._views[index]

    def __getattr__(self, name: str) -> InputView:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._by_step[name]
        except KeyError:
            raise ArtifactNotFound(
                f"no input comes from a step named '{name}'; inputs come from "
                f"{sorted(self._by_step)}"
            ) from None
