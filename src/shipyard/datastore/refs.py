"""The pointer from metadata to a stored artifact: what layers pass around instead of data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """An artifact as stored: its blob's sha256, the Python type it holds, its size and encoding.

    `encoding` names the serializer that wrote the blob so that a reader never guesses.
    """

    sha256: str
    type_name: str
    size: int
    encoding: str
