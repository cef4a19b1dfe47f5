"""The executor kinds a run may use, by name: the one list `--executor`, SHIPYARD_EXECUTOR
and `Runner(executor=...)` choose from.

Each kind is a name, a line of help and a factory; the factories import their executor
only when called, so listing the kinds (for `--help`) costs nothing and Ray is imported
only by runs that use it. A new executor is one more entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.exceptions import ShipyardError

if TYPE_CHECKING:
    from shipyard.config import Config
    from shipyard.datastore.blobs import BlobStore
    from shipyard.flow.spec import FlowSpec
    from shipyard.runtime.executor import Executor
    from shipyard.runtime.launch import RunOptions

#: What runs take when neither --executor nor the configuration says otherwise.
DEFAULT_EXECUTOR = "local"


@dataclass(frozen=True)
class ExecutorRequest:
    """What a factory gets to build an executor for one run."""

    flow_class: type[FlowSpec]
    blobs: BlobStore
    options: RunOptions
    config: Config


@dataclass(frozen=True)
class ExecutorKind:
    name: str
    #: One line for `--help`: where this kind runs tasks.
    help: str
    make: Callable[[ExecutorRequest], Executor]
    #: Tasks run in the runner and share its terminal (pdb): progress must be plain lines,
    #: not a live display redrawn over what the step prints and reads.
    shares_terminal: bool = False


def _local(request: ExecutorRequest) -> Executor:
    from shipyard.runtime.local import LocalExecutor
    from shipyard.runtime.start_method import StartMethod

    options, config = request.options, request.config
    return LocalExecutor(
        request.flow_class,
        request.blobs,
        options.max_workers,
        options.max_memory_mb,
        _declared_gpus(request),
        StartMethod.named(options.start_method or config.start_method),
        options.strict_resources,
    )


def _inline(request: ExecutorRequest) -> Executor:
    from shipyard.runtime.inline import InlineExecutor

    options = request.options
    return InlineExecutor(
        request.flow_class,
        request.blobs,
        options.max_workers,
        options.max_memory_mb,
        _declared_gpus(request),
        options.strict_resources,
    )


def _declared_gpus(request: ExecutorRequest) -> int | None:
    """`--gpus`, else SHIPYARD_GPUS; None: detect the machine's."""
    given = request.options.gpus
    return given if given is not None else request.config.gpus


def _ray(request: ExecutorRequest) -> Executor:
    from shipyard.runtime.ray_executor import RayExecutor

    options, config = request.options, request.config
    if options.max_memory_mb or options.gpus:
        raise ShipyardError(
            "--max-memory and --gpus size the local executor; a Ray cluster offers what "
            "its nodes have (use @resources to ask for memory or GPUs)"
        )
    return RayExecutor(options.ray_address or config.ray_address, config, options.max_workers)


#: Every kind by name, in the order help and error messages list them.
EXECUTORS: dict[str, ExecutorKind] = {
    kind.name: kind
    for kind in (
        ExecutorKind(
            "inline", "in this process, one task at a time (for pdb)", _inline, shares_terminal=True
        ),
        ExecutorKind("local", "local processes (forked, or spawned: --start-method)", _local),
        ExecutorKind("ray", "a Ray cluster", _ray),
    )
}


def executor_kind(name: str) -> ExecutorKind:
    """The kind called `name`, or an error listing the kinds there are."""
    kind = EXECUTORS.get(name)
    if kind is None:
        raise ShipyardError(
            f"unknown executor {name!r} (from --executor or SHIPYARD_EXECUTOR); "
            f"choose one of: {', '.join(EXECUTORS)}"
        )
    return kind
