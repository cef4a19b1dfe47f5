"""Error types users see: each message says what went wrong and what to do next."""

from __future__ import annotations


class ShipyardError(Exception):
    """Base class of every error Shipyard raises on purpose."""


class FlowDefinitionError(ShipyardError):
    """The flow's structure is invalid; raised before anything runs.

    Carries the file, line and step so that the CLI can point at the culprit.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        file: str | None = None,
        line: int | None = None,
        step: str | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line
        self.step = step
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        step = f"step '{self.step}': " if self.step else ""
        hint = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{where}{step}{self.message}{hint}"


class FlowLintErrors(ShipyardError):
    """All the problems the graph lint found at once, so users fix them in one pass."""

    def __init__(self, errors: list[FlowDefinitionError]) -> None:
        self.errors = errors
        body = "\n".join(e.render() for e in errors)
        super().__init__(f"the flow is not valid ({len(errors)} problem(s)):\n{body}")


class DecoratorSpecError(ShipyardError):
    """A `--with name:key=value` names no step decorator, or an argument it does not take."""


class ParameterError(ShipyardError):
    """A parameter value is missing or cannot be converted to its declared type."""


class MergeArtifactsError(ShipyardError):
    """`merge_artifacts` met the same artifact name with different values in its inputs."""


class StepTransitionError(ShipyardError):
    """A step called `self.next` differently from what the static graph says."""


class BlobNotFound(ShipyardError):
    """A blob the metadata refers to is missing from the datastore."""


class CorruptBlobError(ShipyardError):
    """A blob's content does not match its sha256: the datastore was damaged."""


class ArtifactNotFound(ShipyardError, AttributeError):
    """A task has no artifact of that name."""


class ObjectNotFound(ShipyardError, KeyError):
    """A flow, run, step or task pathspec does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it readable
        return str(self.args[0]) if self.args else ""


class NamespaceMismatch(ShipyardError):
    """The object exists but lies outside the current namespace."""


class RunFailed(ShipyardError):
    """A run ended with a failed task (raised by `Runner` when asked to)."""


#: The exit status of `python flow.py run|resume` and of `shipyard` when Shipyard's own storage
#: failed (`InfrastructureError`). The others: 0 success, 1 a task failed (or, for `shipyard`,
#: the command could not do what was asked), 2 a usage error or a flow that is not valid.
INFRASTRUCTURE_EXIT_CODE = 3


class InfrastructureError(ShipyardError):
    """Shipyard's own storage cannot be used: the datastore or the metadata database is
    misconfigured, unreachable, damaged, full or read-only.

    Not the flow's fault, and not fixed by running it again as it is: the command line reports
    it in one line and exits with `INFRASTRUCTURE_EXIT_CODE`, so that scripts can tell it from
    a failed task.
    """


class DatastoreError(InfrastructureError):
    """The datastore cannot be opened or written (an unknown URL, a full disk, a read-only
    folder); the filesystem's own error is the `__cause__`."""


class ConfigError(ShipyardError):
    """The configuration file cannot be used: not TOML, or a key Shipyard does not know."""


class StoreNotFound(ObjectNotFound):
    """A reader found no store where the configuration points: none is created for a read."""
