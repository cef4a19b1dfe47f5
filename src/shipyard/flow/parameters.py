"""Run parameters: typed, validated before anything runs, read-only inside steps."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.exceptions import ParameterError
from shipyard.flow.scope import scope_of


class _JSONTypeMarker:
    """Marks a parameter whose value is a JSON document (a CLI string parsed with json.loads)."""

    name = "JSON"

    def __repr__(self) -> str:
        return "JSONType"


JSONType = _JSONTypeMarker()

#: The default of a parameter without one (None is a value a default may have).
MISSING: Any = object()

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _to_json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    json.dumps(value)  # refuse values that could not be stored as JSON
    return value


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {
    int: int,
    float: float,
    str: str,
    bool: _to_bool,
    JSONType: _to_json,
}


@dataclass(frozen=True)
class ParameterContext:
    """What a callable `default` is given when a run starts, as Metaflow's `ParameterContext`."""

    flow_name: str
    user_name: str
    parameter_name: str
    logger: Callable[..., None] = logging.getLogger("shipyard.parameters").info
    ds_type: str = "local"
    configs: Mapping[str, Any] = field(default_factory=dict)


class Parameter:
    """A value given on the command line (`--alpha 0.5`) and visible to every step as `self.alpha`.

    As in Metaflow, the name may hold dashes: `Parameter("batch-size")` is `--batch-size` on
    the command line and `batch_size` as an artifact. `separator=","` turns a string value
    into the list of its parts; a callable `default` is evaluated once when a run starts,
    with a `ParameterContext`.

    Parameters are data descriptors so that assigning to one inside a step fails loudly
    instead of silently creating a shadowing artifact.
    """

    def __init__(
        self,
        name: str,
        default: Any = MISSING,
        type: Any = None,
        required: bool = False,
        help: str | None = None,
        separator: str | None = None,
        show_default: bool = True,
    ) -> None:
        key = name.replace("-", "_")
        if not key.isidentifier():
            raise ParameterError(
                f"parameter name {name!r} is not a valid Python identifier (dashes allowed)"
            )
        #: The artifact name and the key of the run's parameters; `option` is the CLI's.
        self.name = key
        self.option = name
        self.default = default
        self.required = required
        self.help = help or ""
        self.separator = separator
        self.show_default = show_default
        self.type = type if type is not None else self._infer_type(default)
        if self.type not in _CONVERTERS:
            raise ParameterError(
                f"parameter '{name}': type {self.type!r} is not supported; "
                "use int, float, str, bool or JSONType"
            )
        if separator is not None and self.type is not str:
            raise ParameterError(
                f"parameter '{name}': separator= is only allowed with type=str, as in Metaflow"
            )
        self.attribute: str = key  # the class attribute it is bound to, set by __set_name__

    @staticmethod
    def _infer_type(default: Any) -> Any:
        if default is MISSING or default is None or callable(default):
            return str
        if isinstance(default, bool | int | float | str):
            return type(default)
        return JSONType

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING and self.default is not None

    @property
    def default_is_computed(self) -> bool:
        """A callable default: known only when a run starts."""
        return callable(self.default)

    def cli_names(self) -> list[str]:
        """`--batch-size` and `--batch_size`: Metaflow users type either."""
        names = [f"--{self.option}"]
        for variant in (self.option.replace("_", "-"), self.option.replace("-", "_")):
            if f"--{variant}" not in names:
                names.append(f"--{variant}")
        return names

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        scope = scope_of(instance)
        if scope is None:
            raise AttributeError(f"parameter '{self.name}' has a value only inside a running step")
        return scope.load(self.name)

    def __set__(self, instance: Any, value: Any) -> None:
        raise AttributeError(
            f"parameter '{self.name}' is read-only inside a flow; "
            "assign the value to an artifact with another name instead"
        )

    def convert(self, value: Any) -> Any:
        """Turn a CLI string or Python value into the declared type, with a clear error."""
        if self.separator is not None and isinstance(value, str):
            return value.split(self.separator)
        try:
            return _CONVERTERS[self.type](value)
        except (ValueError, TypeError) as exc:
            type_name = getattr(self.type, "__name__", None) or self.type.name
            raise ParameterError(
                f"invalid value for parameter '--{self.option}': {value!r} is not a valid "
                f"{type_name} ({exc})"
            ) from None

    def resolve(self, given: Mapping[str, Any], context: ParameterContext | None = None) -> Any:
        """The run's value: given, else the default (a callable one called with `context`)."""
        if self.name in given and given[self.name] is not None:
            return self.convert(given[self.name])
        default = self.default
        if self.default_is_computed:
            if context is None:
                raise ParameterError(
                    f"parameter '--{self.option}' has a computed default, which needs the "
                    "run's ParameterContext"
                )
            default = self.default(context)
        if default is not MISSING and default is not None:
            return self.convert(default)
        if self.required:
            raise ParameterError(
                f"missing required parameter '--{self.option}'"
                + (f" ({self.help})" if self.help else "")
                + f"; pass it as --{self.option} VALUE"
            )
        return None

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, default={self.default!r}, type={self.type!r})"


def resolve_parameters(
    parameters: Mapping[str, Parameter],
    given: Mapping[str, Any],
    context: Callable[[str], ParameterContext] | None = None,
) -> dict[str, Any]:
    """Validate every parameter at once so that a user sees all problems before anything runs.

    `context` makes the `ParameterContext` a callable default of the named parameter gets.
    """
    unknown = sorted(set(given) - set(parameters))
    if unknown:
        known = ", ".join(sorted(f"--{p.option}" for p in parameters.values())) or "none"
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; known: {known}")
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, parameter in parameters.items():
        try:
            values[name] = parameter.resolve(given, context(name) if context else None)
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("\n".join(problems))
    return values
