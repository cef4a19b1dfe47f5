"""`IncludeFile`: a local file's content, read once when a run starts, as a run parameter.

As in Metaflow, the command line takes a path (`--data movies.csv`); the runner reads the
file before anything runs and stores the content once, as a content-addressed artifact,
which every task and the client see as `self.data` / `run.data.data`. The run's recorded
parameter is a small JSON descriptor of that artifact (`IncludedFile.to_json`), so a resume
uses the same content without reading the file again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shipyard.datastore.refs import ArtifactRef
from shipyard.exceptions import ParameterError
from shipyard.flow.parameters import MISSING, Parameter


@dataclass(frozen=True)
class IncludedFile:
    """What a run records for an included file: where it was read and the stored content."""

    path: str
    ref: ArtifactRef

    def to_json(self) -> dict[str, Any]:
        return {"included_file": self.path, **asdict(self.ref)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncludedFile:
        fields = {key: data[key] for key in ("sha256", "type_name", "size", "encoding")}
        return cls(str(data["included_file"]), ArtifactRef(**fields))


class IncludeFile(Parameter):
    """`IncludeFile("data", default="movies.csv")`: `--data PATH`, `self.data` is the content
    (text decoded with `encoding`, or bytes with `is_text=False`)."""

    def __init__(
        self,
        name: str,
        required: bool = False,
        is_text: bool = True,
        encoding: str = "utf-8",
        help: str | None = None,
        default: Any = MISSING,
        show_default: bool = True,
    ) -> None:
        super().__init__(
            name,
            default=default,
            type=str,
            required=required,
            help=help,
            show_default=show_default,
        )
        self.is_text = is_text
        self.encoding = encoding

    def convert(self, value: Any) -> Any:
        # A path as given, or the descriptor of an earlier run's file (when resuming).
        if isinstance(value, dict):
            return IncludedFile.from_json(value).to_json()
        path = super().convert(value)
        if not Path(path).expanduser().is_file():  # refused before anything starts
            raise ParameterError(
                f"IncludeFile '--{self.option}': no file at {path!r}; pass an existing file"
            )
        return path

    def included(self, value: Any, save: Callable[[Any], ArtifactRef]) -> IncludedFile:
        """The run's value stored: a path is read and its content saved with `save`; a
        descriptor (an earlier run's, when resuming) names content stored already."""
        if isinstance(value, dict):
            return IncludedFile.from_json(value)
        return IncludedFile(value, save(self.read(value)))

    def read(self, path: str) -> str | bytes:
        """The file's content as the step will see it."""
        try:
            content = Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise ParameterError(
                f"IncludeFile '--{self.option}': cannot read {path!r} ({exc.strerror}); "
                "pass an existing file"
            ) from None
        if not self.is_text:
            return content
        try:
            return content.decode(self.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParameterError(
                f"IncludeFile '--{self.option}': {path!r} is not {self.encoding} text ({exc}); "
                "pass encoding=... or is_text=False"
            ) from None
