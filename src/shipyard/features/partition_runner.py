"""`PartitionRunner`: where the partitions of a partitioned training frame are built.

A partitioned build (`features/partitioned.py`) hands a runner one function and one work item
per partition; the runner calls the function on every item, here or on other machines, and
returns the answers in the items' order. Two runners exist: `InProcessPartitions` builds the
partitions one after the other in this process (a frame too large to join at once), and
`RayPartitions` (`features/ray_partitions.py`) runs each as a Ray task.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection, Sequence
from typing import Protocol, TypeVar

__all__ = ["InProcessPartitions", "PartitionRunner"]

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class PartitionRunner(Protocol):
    """Calls one function on many work items, possibly elsewhere."""

    #: How many items it runs at once: the default number of partitions.
    slots: int
    #: A folder (path or fsspec URL) that every worker can write and this process read: where
    #: partitions leave their Parquet parts.
    scratch: str

    def map(
        self,
        function: Callable[[Item], Answer],
        items: Sequence[Item],
        *,
        by_value: Collection[str] = (),
    ) -> list[Answer]:
        """`function(item)` for every item, in order; the first failure is raised.

        `by_value` names modules whose code travels with the items rather than being
        imported where they run (a flow file's module is not importable on a worker)."""
        ...


class InProcessPartitions:
    """Each partition built in turn in this process, its parts in the temporary folder."""

    slots = 1

    def __init__(self) -> None:
        self.scratch = tempfile.gettempdir()

    def map(
        self,
        function: Callable[[Item], Answer],
        items: Sequence[Item],
        *,
        by_value: Collection[str] = (),
    ) -> list[Answer]:
        """Every item in order, here: nothing travels, so `by_value` changes nothing."""
        return [function(item) for item in items]
