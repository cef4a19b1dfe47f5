"""`Metaflow()`: the entry point to every flow, as Metaflow's client spells it.

Notebook code written for Metaflow starts with `Metaflow().flows`; it lists the same flows as
`shipyard.client.flows()`, those with a run in the current namespace.
"""

from __future__ import annotations

from collections.abc import Iterator

from shipyard.client.context import ClientContext, current_context
from shipyard.client.objects import Flow, flows

__all__ = ["Metaflow"]


class Metaflow:
    """Every flow of the store the client reads (see `metadata()`), in the current namespace."""

    def __init__(self, *, context: ClientContext | None = None) -> None:
        self._context = context or current_context()

    @property
    def flows(self) -> list[Flow]:
        """The flows with a run in the current namespace, alphabetically."""
        return flows(context=self._context)

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __getitem__(self, name: str) -> Flow:
        """The flow `name`; raises `ObjectNotFound` if it never ran."""
        return Flow(name, context=self._context)

    def __repr__(self) -> str:
        return "Metaflow()"
