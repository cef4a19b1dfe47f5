"""Starting a run: validate everything, start the executor, record the run, then schedule it."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.config import Config
from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.code import snapshot_code
from shipyard.datastore.refs import ArtifactRef
from shipyard.datastore.urls import protocol
from shipyard.exceptions import InfrastructureError, ShipyardError
from shipyard.flow.configs import bound_configs, configs_of
from shipyard.flow.decorator_specs import graph_with
from shipyard.flow.flow_decorators import RunStartContext
from shipyard.flow.include_file import IncludeFile
from shipyard.flow.parameters import Parameter, ParameterContext, resolve_parameters
from shipyard.flow.spec import FlowSpec
from shipyard.metadata.records import RunStatus
from shipyard.runtime.executors import ExecutorRequest, executor_kind
from shipyard.runtime.resume import ResumePlan, choose_origin, plan_resume
from shipyard.runtime.scheduler import ProgressListener, RunContext, RunSummary, Scheduler


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    max_workers: int | None = None
    tags: tuple[str, ...] = ()
    max_memory_mb: int | None = None
    #: GPUs local tasks may use; None takes SHIPYARD_GPUS, else the GPUs detected.
    gpus: int | None = None
    #: How local tasks start, `fork` or `spawn`; None takes SHIPYARD_START_METHOD, else
    #: spawn on macOS and fork elsewhere (`runtime.start_method`).
    start_method: str | None = None
    #: A name from `runtime.executors.EXECUTORS`; None takes the configuration's
    #: (SHIPYARD_EXECUTOR, default local).
    executor: str | None = None
    #: For the Ray executor; None takes SHIPYARD_RAY_ADDRESS (default `auto`).
    ray_address: str | None = None
    #: `--with` specs (`retry`, `catch:var=err`): step decorators attached to every step.
    with_decorators: tuple[str, ...] = ()
    #: Create a new metadata database even though the datastore holds runs' data already
    #: (`--new-metadata`); without it such a run is refused (see `FlowRun`).
    new_metadata: bool = False
    #: Refuse a step that asks for more than the local executor has (`--strict-resources`)
    #: instead of running it with what there is and a `ResourcesCapped` warning.
    strict_resources: bool = False
    #: `--max-num-splits`: the widest foreach a run may open (None: no limit).
    max_num_splits: int | None = None


@dataclass(frozen=True)
class ResumeRequest:
    """Resume `run_id` (default: my latest run), running again from `step` if given."""

    run_id: str | None = None
    step: str | None = None


class FlowRun:
    """One run from validation to its final status.

    Construction does all that can fail before work starts (lint, parameters, resources,
    the run to resume) and forks the executor before anything opens threads or database
    connections.

    A missing metadata database is created only where the datastore holds no blobs yet, or
    when `RunOptions.new_metadata` says so (see `open_metadata_for_writing`).
    """

    def __init__(
        self,
        flow_class: type[FlowSpec],
        given_parameters: Mapping[str, Any],
        options: RunOptions,
        config: Config | None = None,
        resume: ResumeRequest | None = None,
    ) -> None:
        self.config = config or Config.current()
        self.graph = graph_with(flow_class, options.with_decorators)
        self.with_decorators = options.with_decorators
        self.max_num_splits = options.max_num_splits
        self.flow_name = flow_class.__name__
        self.tags = _validate_tags(options.tags)
        #: Configurations as the graph was built with them: read once, when the run starts.
        self.configs = bound_configs(flow_class, self.config.user) if configs_of(flow_class) else {}
        if resume is None:  # checked before forking, so a typo costs nothing
            self.parameters = resolve_parameters(
                _plain_parameters(flow_class), given_parameters, self._parameter_context
            )
            self.parameters.update(self.configs)
        _check_datastore_outlives_the_run(self.config.datastore)
        blobs = BlobStore(self.config.datastore)
        self.artifacts = ArtifactStore(blobs)
        #: Parameters whose values were stored before the run (included files' content).
        self.parameter_refs: dict[str, ArtifactRef] = {}
        self.executor_kind = executor_kind(options.executor or self.config.executor)
        self.executor = self.executor_kind.make(
            ExecutorRequest(flow_class, blobs, options, self.config)
        )
        self.executor.start()
        try:
            self.executor.check_requests(self.graph)
            # Imported after the fork: the warm worker stays small without SQLAlchemy in it.
            from shipyard.metadata import open_metadata_for_writing

            self.metadata = open_metadata_for_writing(
                self.config.metadata, blobs, new=options.new_metadata
            )
            self.plan: ResumePlan | None = None
            if resume is not None:
                origin = choose_origin(
                    self.metadata, self.flow_name, self.config.user, resume.run_id, resume.step
                )
                self.plan = plan_resume(self.graph, self.metadata, origin, resume.step)
                known = _plain_parameters(flow_class)
                self.parameters = resolve_parameters(
                    known, {k: v for k, v in origin.parameters.items() if k in known}
                )
                self.parameters.update(self.configs)
                self.tags = tuple(dict.fromkeys([*origin.tags, *self.tags]))
            # Stored once the metadata is open: blobs in a datastore without a database
            # would read as the data of lost runs (see `open_metadata_for_writing`).
            self._include_files(flow_class)
            self._before_run(flow_class)
            self.code_hash = blobs.put_bytes(snapshot_code(Path(self.graph.file)))
            self.run_id = self.metadata.create_run(
                self.flow_name,
                self.config.user,
                tags=self.tags,
                parameters=self.parameters,
                code_hash=self.code_hash,
                origin_run_id=self.plan.origin.run_id if self.plan else None,
                runner_host=socket.gethostname(),
                runner_pid=os.getpid(),
            )
        except BaseException:
            self.executor.shutdown()
            raise

    def _include_files(self, flow_class: type[FlowSpec]) -> None:
        """Store each included file's content once; the run records its descriptor."""
        for name, parameter in flow_class.parameters().items():
            value = self.parameters.get(name)
            if isinstance(parameter, IncludeFile) and value is not None:
                included = parameter.included(value, self.artifacts.save)
                self.parameters[name] = included.to_json()
                self.parameter_refs[name] = included.ref

    def _parameter_context(self, name: str) -> ParameterContext:
        """What a callable default is given: evaluated here, once, before the run starts."""
        return ParameterContext(
            flow_name=self.flow_name,
            user_name=self.config.user,
            parameter_name=name,
            configs=self.configs,
        )

    def _before_run(self, flow_class: type[FlowSpec]) -> None:
        """Let the flow's decorators check the run and add tags before it is recorded."""
        context = RunStartContext(
            flow_name=self.flow_name,
            username=self.config.user,
            parameters=self.parameters,
            tags=list(self.tags),
            origin_run_id=self.plan.origin.run_id if self.plan else None,
        )
        for decorator in flow_class.flow_decorators():
            decorator.before_run(context)
        added = _validate_tags(tag for tag in context.tags if tag not in self.tags)
        self.tags = (*self.tags, *added)

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}"

    def execute(self, listener: ProgressListener | None = None) -> RunSummary:
        context = RunContext(
            flow_name=self.flow_name,
            run_id=self.run_id,
            datastore_url=self.executor.datastore_url,
            username=self.config.user,
            tags=frozenset(self.tags),
            parameters={k: v for k, v in self.parameters.items() if k not in self.parameter_refs},
            parameter_refs=self.parameter_refs,
            origin_run_id=self.plan.origin.run_id if self.plan else None,
            code_hash=self.code_hash,
            with_decorators=self.with_decorators,
            max_num_splits=self.max_num_splits,
        )
        scheduler = Scheduler(
            self.graph,
            context,
            self.executor,
            self.metadata,
            self.artifacts,
            listener,
            reuse=self.plan.reusable if self.plan else None,
        )
        try:
            return scheduler.run()
        except InfrastructureError as exc:
            self._stop(f"the run stopped: {exc}")
            raise
        except BaseException:
            self._stop("the run was interrupted")
            raise
        finally:
            self.executor.shutdown()
            self.metadata.close()

    def _stop(self, reason: str) -> None:
        """Record the run as failed and its running tasks with `reason`, as far as the
        metadata store still can: it may be what failed."""
        with contextlib.suppress(InfrastructureError):
            self.metadata.fail_running_tasks(self.flow_name, self.run_id, reason)
            self.metadata.finish_run(self.flow_name, self.run_id, RunStatus.FAILED)


def _plain_parameters(flow_class: type[FlowSpec]) -> dict[str, Parameter]:
    """The parameters given on `run`'s command line: configurations are read before it."""
    configs = configs_of(flow_class)
    return {n: p for n, p in flow_class.parameters().items() if n not in configs}


def _check_datastore_outlives_the_run(url: str) -> None:
    """Refuse a datastore that lives in one process's memory (`memory://`) before anything runs.

    Tasks run in processes of their own and store their artifacts there, so the runner would
    look for blobs it never sees and fail half-way; and whatever it did store would be gone,
    while the metadata still names it, when the runner exits.
    """
    if protocol(url) == "memory":
        raise ShipyardError(
            f"the datastore {url!r} lives in the memory of one process: the task processes "
            "would store artifacts the runner never sees, and nothing would be left once the "
            "run ends. Set SHIPYARD_DATASTORE to a directory (default ./.shipyard) or to a URL "
            "such as s3://bucket/prefix"
        )


def _validate_tags(tags: Iterable[str]) -> tuple[str, ...]:
    clean = []
    for tag in tags:
        if not tag or len(tag) > 255 or tag.startswith(("user:", "flow:")):
            raise ShipyardError(
                f"invalid tag {tag!r}: tags are 1-255 characters and may not start with "
                "'user:' or 'flow:' (those are system tags)"
            )
        clean.append(tag)
    return tuple(dict.fromkeys(clean))
