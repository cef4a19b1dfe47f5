"""`RayPartitions`: the partitions of a training frame built as Ray tasks.

Inside a task of the Ray executor (a flow step) Ray is connected already and the partitions
become tasks of the same cluster. Elsewhere (a script or notebook with `SHIPYARD_EXECUTOR=ray`)
this process joins the cluster `SHIPYARD_RAY_ADDRESS` names for the build and leaves it
afterwards: `auto` lets Ray find it (`RAY_ADDRESS`, else the cluster `ray start` started on
this machine, else a new local instance), `local` always starts a local instance.

Parts are written under the datastore, which every node must reach (`s3://...`, or a
directory on a shared mount at the same path everywhere), as for the Ray executor.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from shipyard.config import Config
from shipyard.features.errors import TrainingFrameError

__all__ = ["RayPartitions", "ray_partitions"]

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class RayPartitions:
    """Each item a Ray task of one CPU; a task lost with its node is run again by Ray (a
    part is written whole or not at all, so a rerun is harmless)."""

    def __init__(self, ray: Any, scratch: str) -> None:
        self._ray = ray
        self.scratch = scratch
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def map(
        self,
        function: Callable[[Item], Answer],
        items: Sequence[Item],
        *,
        by_value: Collection[str] = (),
    ) -> list[Answer]:
        """Submit every item, then wait for all; the first failure is raised."""
        from ray import cloudpickle

        remote = self._ray.remote(num_cpus=1)(function)
        modules = [sys.modules[name] for name in by_value if name in sys.modules]
        for module in modules:  # items are pickled when submitted
            cloudpickle.register_pickle_by_value(module)
        try:
            refs = [remote.remote(item) for item in items]
        finally:
            for module in modules:
                cloudpickle.unregister_pickle_by_value(module)
        answers: list[Answer] = self._ray.get(refs)
        return answers


@contextmanager
def ray_partitions(config: Config) -> Iterator[RayPartitions]:
    """A runner on the configuration's Ray cluster, joined for the block if need be."""
    try:
        import ray
    except ImportError:
        raise TrainingFrameError(
            "the Ray executor is configured (SHIPYARD_EXECUTOR=ray) but Ray is not installed; "
            "install it with: pip install 'shipyard[ray]', or build with executor='local'"
        ) from None
    joined = not ray.is_initialized()
    if joined:
        address = None if config.ray_address == "auto" else config.ray_address
        ray.init(
            address=address,
            namespace="shipyard",
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    try:
        yield RayPartitions(ray, _scratch(config.datastore))
    finally:
        if joined:
            ray.shutdown()


def _scratch(datastore: str) -> str:
    """Where parts go: under the datastore, a local directory made absolute (the workers'
    working directories differ from this process's)."""
    if "://" in datastore and not datastore.startswith("file://"):
        return f"{datastore.rstrip('/')}/tmp/frames"
    return str(Path(datastore.removeprefix("file://")).expanduser().resolve() / "tmp" / "frames")
