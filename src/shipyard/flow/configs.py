"""`Config` and `config_expr`: a flow's configuration, read once when a run starts.

As in Metaflow 2.13+: `cfg = Config("cfg", default="config.json")` reads a JSON file (or
TOML, YAML, ... through `parser=`) before anything runs; `self.cfg` is the same immutable
mapping in every step (an artifact, like a parameter), and decorators may take values from
it: `@resources(cpu=cfg.cpu)` or `@resources(cpu=config_expr("cfg.cpu"))`. At class
definition time such a value is a `ConfigExpr`; it is evaluated when the flow's graph is
built, with the configuration bound to the class (`bind_configs`).

Binding lives here, per flow class, because a class's decorators can only take one
configuration at a time: the runner binds what it read (the command line's `--config`
options or the defaults), and a task binds the run's values from its spec before it builds
the graph, so that every process sees the decorators the run was started with.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import inspect
import json
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from shipyard.exceptions import ConfigError, FlowDefinitionError, FlowLintErrors
from shipyard.flow.parameters import Parameter, ParameterContext


class ConfigValue(collections.abc.Mapping[str, Any]):
    """A configuration as steps see it: read with `cfg.key` or `cfg["key"]`, never changed."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", {k: _frozen(v) for k, v in data.items()})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(
                f"the configuration has no key {key!r}; it has: {', '.join(self._data)}"
            ) from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise TypeError(
            "a Config is read-only inside a flow; copy it into an artifact to change it"
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self.to_dict() == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable copy (nested mappings as dicts)."""
        return _thawed(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigValue, (self.to_dict(),))

    def __repr__(self) -> str:
        return repr(self.to_dict())


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ConfigValue(value)
    if isinstance(value, list | tuple):
        return type(value)(_frozen(v) for v in value)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thawed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_thawed(v) for v in value)
    return value


class ConfigExpr:
    """A value taken from a configuration that is not read yet: `cfg.resources.cpu` or
    `config_expr("cfg.cpu * 2")`, evaluated once the configuration is bound."""

    def __init__(self, expression: str, namespace: Mapping[str, Any] | None = None) -> None:
        self.expression = expression
        self.namespace = dict(namespace or {})

    def __getattr__(self, name: str) -> ConfigExpr:
        if name.startswith("__"):
            raise AttributeError(name)
        return ConfigExpr(f"{self.expression}.{name}", self.namespace)

    def __getitem__(self, key: Any) -> ConfigExpr:
        return ConfigExpr(f"{self.expression}[{key!r}]", self.namespace)

    def evaluate(self, configs: Mapping[str, Any]) -> Any:
        values = {name: ConfigValue(v) if v is not None else None for name, v in configs.items()}
        try:
            result = eval(self.expression, dict(self.namespace), values)
        except Exception as exc:
            raise ConfigError(
                f"config expression {self.expression!r} failed: {type(exc).__name__}: {exc}"
            ) from None
        return _thawed(result)

    def __repr__(self) -> str:
        return f"config_expr({self.expression!r})"


def config_expr(expression: str) -> ConfigExpr:
    """A decorator argument computed from the flow's configuration(s), as in Metaflow:
    `@environment(vars={"MODE": config_expr("cfg.mode.upper()")})`. The expression sees the
    configurations by name and the globals of the module that wrote it."""
    caller = inspect.currentframe()
    namespace = caller.f_back.f_globals if caller and caller.f_back else {}
    return ConfigExpr(expression, namespace)


class Config(Parameter):
    """`Config("cfg", default="config.json", parser="tomllib.loads")`: the flow's configuration.

    Its value is, in order: the command line's `--config cfg PATH` or `--config-value cfg
    TEXT`; the file `default` (a path, or a callable given a `ParameterContext`) if it
    exists; `default_value` (a mapping, a text to parse, or a callable). `parser` turns the
    text into a mapping: JSON when not given, else a callable or its dotted name
    (`"tomllib.loads"`, `"yaml.safe_load"`).
    """

    def __init__(
        self,
        name: str,
        default: str | Callable[[ParameterContext], str] | None = None,
        default_value: Any = None,
        help: str | None = None,
        required: bool | None = None,
        parser: str | Callable[[str], Mapping[str, Any]] | None = None,
        show_default: bool = True,
    ) -> None:
        super().__init__(
            name, type=str, required=bool(required), help=help, show_default=show_default
        )
        if default is not None and default_value is not None:
            raise ConfigError(f"Config '{name}': give default or default_value, not both")
        self.default_path = default
        self.default_value = default_value
        self.parser = parser

    # -- at class definition: values for decorators -----------------------------------------
    def __getattr__(self, key: str) -> ConfigExpr:
        if key.startswith("_"):
            raise AttributeError(key)
        return ConfigExpr(f"{self.name}.{key}")

    def __getitem__(self, key: str) -> ConfigExpr:
        return ConfigExpr(f"{self.name}[{key!r}]")

    # -- in a step ---------------------------------------------------------------------------
    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        value = super().__get__(instance, owner)
        return value if instance is None or value is None else ConfigValue(value)

    # -- when a run starts -------------------------------------------------------------------
    def read(
        self, path: str | None, text: str | None, context: ParameterContext
    ) -> dict[str, Any] | None:
        """The configuration as a plain mapping (None when there is none and none is required)."""
        if path is not None and text is not None:
            raise ConfigError(f"--config and --config-value both name '{self.name}'; give one")
        if path is not None:
            return self._parsed(self._read_file(Path(path)), f"--config {self.name} {path}")
        if text is not None:
            return self._parsed(text, f"--config-value {self.name}")
        default_path = self.default_path
        if callable(default_path):
            default_path = default_path(context)
        if default_path is not None and Path(default_path).is_file():
            return self._parsed(self._read_file(Path(default_path)), str(default_path))
        value = self.default_value
        if callable(value):
            value = value(context)
        if isinstance(value, str):
            return self._parsed(value, f"Config '{self.name}' default_value")
        if isinstance(value, Mapping):
            return _thawed(value)  # type: ignore[no-any-return]
        if self.required:
            where = f" (no file {default_path!r})" if default_path else ""
            raise ConfigError(
                f"Config '{self.name}' is required{where}; pass --config {self.name} PATH "
                "before the command (python flow.py --config NAME PATH run)"
            )
        return None

    def _read_file(self, path: Path) -> str:
        try:
            return path.read_text()
        except OSError as exc:
            raise ConfigError(f"Config '{self.name}': cannot read {str(path)!r} ({exc})") from None

    def _parsed(self, text: str, source: str) -> dict[str, Any]:
        try:
            value = self._parser()(text)
        except Exception as exc:
            raise ConfigError(
                f"Config '{self.name}' from {source} does not parse: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"Config '{self.name}' from {source} is a {type(value).__name__}, not a mapping"
            )
        # A JSON round trip: the run records it as a parameter, and TOML dates would not fit.
        try:
            return json.loads(json.dumps(_thawed(value)))  # type: ignore[no-any-return]
        except TypeError as exc:
            raise ConfigError(f"Config '{self.name}' from {source}: {exc}") from None

    def _parser(self) -> Callable[[str], Any]:
        if self.parser is None:
            return json.loads
        if callable(self.parser):
            return self.parser
        module_name, _, function = self.parser.rpartition(".")
        try:
            parser: Callable[[str], Any] = getattr(importlib.import_module(module_name), function)
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(
                f"Config '{self.name}': parser {self.parser!r} is not an importable function "
                "(e.g. 'tomllib.loads', 'yaml.safe_load')"
            ) from None
        return parser


def configs_of(flow_class: type) -> dict[str, Config]:
    """The flow's `Config` declarations by name."""
    return {
        value.name: value
        for klass in reversed(flow_class.__mro__)
        for value in vars(klass).values()
        if isinstance(value, Config)
    }


def read_configs(
    flow_class: type,
    user: str,
    paths: Mapping[str, str] | None = None,
    texts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every configuration of the flow, read now (the command line's choices first)."""
    declared = configs_of(flow_class)
    given = {**(paths or {}), **(texts or {})}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ConfigError(f"no Config named {', '.join(unknown)} in the flow; it has: {known}")
    return {
        name: config.read(
            (paths or {}).get(name),
            (texts or {}).get(name),
            ParameterContext(flow_class.__name__, user, name),
        )
        for name, config in declared.items()
    }


_BOUND: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


def bind_configs(flow_class: type, values: Mapping[str, Any]) -> None:
    """Make `values` the flow class's configuration (kept as it is when equal, so that a
    graph built with it stays valid)."""
    if _BOUND.get(flow_class) != dict(values):
        _BOUND[flow_class] = dict(values)


def bound_configs(flow_class: type, user: str) -> dict[str, Any]:
    """The class's bound configuration; bound from the defaults first if none is."""
    if flow_class not in _BOUND:
        bind_configs(flow_class, read_configs(flow_class, user))
    return _BOUND[flow_class]


def holds_config_expr(decorator: Any) -> bool:
    """Whether a decorator (a dataclass) has an argument still waiting for a configuration."""
    return dataclasses.is_dataclass(decorator) and any(
        _has_expr(getattr(decorator, f.name)) for f in dataclasses.fields(decorator)
    )


def _has_expr(value: Any) -> bool:
    if isinstance(value, ConfigExpr):
        return True
    if isinstance(value, Mapping):
        return any(_has_expr(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_expr(v) for v in value)
    return False


def _evaluated(value: Any, configs: Mapping[str, Any]) -> Any:
    if isinstance(value, ConfigExpr):
        return value.evaluate(configs)
    if isinstance(value, Mapping):
        return {k: _evaluated(v, configs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_evaluated(v, configs) for v in value)
    return value


def configured(
    decorators: Sequence[Any], configs: Mapping[str, Any], step: str, file: str, line: int
) -> list[Any]:
    """The decorators with their config expressions evaluated, each checked as if written
    with those values; a value a decorator refuses is a lint error at the step."""
    result = []
    for decorator in decorators:
        if not holds_config_expr(decorator):
            result.append(decorator)
            continue
        try:
            values = {
                f.name: _evaluated(getattr(decorator, f.name), configs)
                for f in dataclasses.fields(decorator)
                if f.init
            }
            result.append(dataclasses.replace(decorator, **values))
        except (ConfigError, TypeError, ValueError) as exc:
            error = FlowDefinitionError(
                f"@{decorator.name} takes its arguments from a Config: {exc}",
                hint="fix the configuration or the expression",
                file=file,
                line=line,
                step=step,
            )
            raise FlowLintErrors([error]) from None
    return result
