"""Naming a model version: `ranker` (the newest), `ranker/3` (a number), `ranker@production`.

The same three forms are accepted everywhere a model is named: `models.load`, the CLI, the
scoring server's command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ModelRef"]

# Names travel in URLs (`/v1/models/{name}`) and pathspec-like strings, so '/' and '@' are out.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_FORMS = "'name' (newest version), 'name/3' (version 3) or 'name@alias'"


@dataclass(frozen=True)
class ModelRef:
    """A reference to one version: by number, by alias, or neither (the newest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "model name")
        if self.version is not None and self.alias is not None:
            raise ValueError("a model reference names a version or an alias, not both")
        if self.version is not None and self.version < 1:
            raise ValueError(f"model versions start at 1, not {self.version}")
        if self.alias is not None:
            check_name(self.alias, "alias")

    @classmethod
    def parse(cls, text: str | ModelRef) -> ModelRef:
        """Parse `text`; raises `ValueError` showing the accepted forms."""
        if isinstance(text, ModelRef):
            return text
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{text!r} is not a model reference; use {_FORMS}")
        text = text.strip()
        if "@" in text:
            name, _, alias = text.partition("@")
            if not name or not alias or "@" in alias or "/" in text:
                raise ValueError(f"{text!r} is not a model reference; use {_FORMS}")
            return cls(name, alias=alias)
        if "/" in text:
            name, _, number = text.partition("/")
            if not name or not number.isascii() or not number.isdigit():
                raise ValueError(
                    f"{text!r} is not a model reference: the part after '/' must be a version "
                    f"number; use {_FORMS}"
                )
            return cls(name, version=int(number))
        return cls(text)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def check_name(value: str, what: str) -> str:
    """`value` if it is a valid model or alias name, else a `ValueError` saying what is allowed."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            f"invalid {what} {value!r}: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit"
        )
    if what == "alias" and value.isdigit():
        raise ValueError(f"invalid alias {value!r}: an alias cannot be a number (versions are)")
    return value
