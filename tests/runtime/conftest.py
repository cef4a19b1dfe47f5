"""Fixtures for tests that drive the runtime in-process: a run's stores, built in one place."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from shipyard import FlowSpec, Run
from shipyard.config import Config
from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.code import snapshot_code
from shipyard.runtime.executor import Executor
from shipyard.runtime.inline import InlineExecutor
from shipyard.runtime.resume import plan_resume
from shipyard.runtime.scheduler import ProgressListener, RunContext, RunSummary, Scheduler

from ..conftest import Home

if TYPE_CHECKING:
    from shipyard.metadata import MetadataBackend


@pytest.fixture
def config(home: Home) -> Config:
    """The configuration of `home`: its datastore directory and its SQLite metadata file."""
    return Config.load()


@pytest.fixture
def metadata(config: Config) -> Iterator[MetadataBackend]:
    """A real metadata store on the SQLite file of `home` (the client reads the same file)."""
    from shipyard.metadata import open_metadata

    store = open_metadata(config.metadata)
    yield store
    store.close()


@dataclass
class Scheduling:
    """Runs flows by driving `Scheduler` directly, as `FlowRun` does, on a chosen executor."""

    config: Config
    metadata: MetadataBackend

    def run(
        self,
        flow_class: type[FlowSpec],
        parameters: Mapping[str, Any] | None = None,
        listener: ProgressListener | None = None,
        resume: Run | None = None,
        executor: Callable[[type[FlowSpec], BlobStore], Executor] = InlineExecutor,
    ) -> tuple[RunSummary, Run]:
        """Record a run of `flow_class` with its code snapshot and schedule it until it ends."""
        name, graph = flow_class.__name__, flow_class.graph()
        blobs = BlobStore(self.config.datastore)
        runner = executor(flow_class, blobs)
        runner.start()  # before anything else, as an executor may fork
        try:
            plan = None
            if resume is not None:
                origin = self.metadata.get_run(name, resume.id)
                plan = plan_resume(graph, self.metadata, origin, None)
            origin_run_id = resume.id if resume else None
            parameters = dict(parameters or {})
            code_hash = blobs.put_bytes(snapshot_code(Path(graph.file)))
            run_id = self.metadata.create_run(
                name,
                self.config.user,
                parameters=parameters,
                code_hash=code_hash,
                origin_run_id=origin_run_id,
                runner_pid=os.getpid(),
            )
            context = RunContext(
                flow_name=name,
                run_id=run_id,
                datastore_url=runner.datastore_url,
                username=self.config.user,
                tags=frozenset(),
                parameters=parameters,
                origin_run_id=origin_run_id,
                code_hash=code_hash,
            )
            artifacts = ArtifactStore(blobs)
            reuse = plan.reusable if plan else None
            summary = Scheduler(
                graph, context, runner, self.metadata, artifacts, listener, reuse
            ).run()
        finally:
            runner.shutdown()
        return summary, Run(f"{name}/{run_id}")


@pytest.fixture
def scheduling(config: Config, metadata: MetadataBackend) -> Scheduling:
    return Scheduling(config, metadata)
