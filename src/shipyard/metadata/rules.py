"""The rules every metadata backend enforces before it writes: which tags a user may set, and
that parameters can be recorded at all.

They live apart from any backend so that the SQL backend and a later HTTP backend refuse the
same input with the same message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from shipyard.exceptions import ParameterError, ShipyardError

__all__ = [
    "SYSTEM_TAG_PREFIXES",
    "check_json_parameters",
    "is_system_tag",
    "tag_set",
    "validated_user_tags",
]

SYSTEM_TAG_PREFIXES = ("user:", "flow:")
"""Tags starting with these are set by Shipyard; users may neither add nor remove them, because
namespaces and filters trust `user:<name>` to say who really started a run."""


def is_system_tag(tag: str) -> bool:
    return tag.startswith(SYSTEM_TAG_PREFIXES)


def tag_set(tags: Iterable[str]) -> set[str]:
    """`tags` as a set, refusing a lone string (which would become a set of characters)."""
    if isinstance(tags, str):
        raise TypeError(f"tags must be an iterable of strings, not the string {tags!r}")
    return set(tags)


def validated_user_tags(tags: Iterable[str]) -> set[str]:
    """`tags` as a set, each a non-empty string without a system prefix."""
    user_tags = tag_set(tags)
    for tag in sorted(user_tags):
        if not isinstance(tag, str) or not tag.strip():
            raise ShipyardError(f"invalid tag {tag!r}: a tag is a non-empty string")
        if is_system_tag(tag):
            raise ShipyardError(
                f"tag {tag!r} starts with a reserved prefix ({', '.join(SYSTEM_TAG_PREFIXES)}); "
                "those are system tags that Shipyard sets itself, so choose another tag"
            )
    return user_tags


def check_json_parameters(parameters: Mapping[str, Any]) -> None:
    """Raise `ParameterError` naming the first parameter whose value JSON cannot hold."""
    for name, value in parameters.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"parameter {name!r} cannot be recorded: its value {value!r} is not "
                f"JSON-serializable ({exc}); give the Parameter a JSON-compatible type"
            ) from exc
