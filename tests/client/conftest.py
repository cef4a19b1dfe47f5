"""Real stores filled through their own APIs, the way the runtime writes them, for the client
(and the `shipyard` CLI) to read back: an SQLite file and a blob directory under tmp_path."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipyard.client import default_namespace
from shipyard.config import Config
from shipyard.datastore import ArtifactStore, BlobStore, snapshot_code
from shipyard.metadata import MetadataBackend, open_metadata
from shipyard.metadata.records import ForeachFrame, RunStatus, TaskStatus

FLOW_SOURCE = (
    '"""A flow file whose snapshot the tests read back."""\n\nclass TrainFlow:\n    pass\n'
)


@dataclass
class History:
    """Writes runs, tasks, artifacts, logs and code snapshots into the stores under test."""

    metadata: MetadataBackend
    artifacts: ArtifactStore
    root: Path

    @property
    def blobs(self) -> BlobStore:
        return self.artifacts.blobs

    def run(
        self,
        flow: str = "TrainFlow",
        *,
        user: str = "alice",
        tags: Sequence[str] = (),
        parameters: Mapping[str, Any] | None = None,
        with_code: bool = False,
    ) -> str:
        """A new running run; returns its id."""
        code_hash = self.blobs.put_bytes(self._code_tarball()) if with_code else None
        return self.metadata.create_run(
            flow, user, tags=tags, parameters=parameters or {}, code_hash=code_hash
        )

    def task(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        *,
        artifacts: Mapping[str, Any] | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
        status: TaskStatus = TaskStatus.SUCCEEDED,
        error: str | None = None,
        attempt: int = 0,
        foreach_stack: Sequence[ForeachFrame] = (),
    ) -> None:
        """One attempt of a task, started and finished (`status=RUNNING` leaves it running)."""
        self.metadata.start_task(
            flow,
            run_id,
            step,
            task_id,
            attempt=attempt,
            foreach_stack=foreach_stack,
            input_paths=(),
        )
        if status is TaskStatus.RUNNING:
            return
        self.metadata.finish_task(
            flow,
            run_id,
            step,
            task_id,
            attempt=attempt,
            status=status,
            artifacts={name: self.artifacts.save(v) for name, v in (artifacts or {}).items()},
            stdout_hash=None if stdout is None else self.blobs.put_bytes(stdout.encode()),
            stderr_hash=None if stderr is None else self.blobs.put_bytes(stderr.encode()),
            exit_code=0 if status is TaskStatus.SUCCEEDED else 1,
            error=error,
        )

    def finish(self, flow: str, run_id: str, status: RunStatus = RunStatus.SUCCEEDED) -> None:
        self.metadata.finish_run(flow, run_id, status)

    def successful_run(
        self, flow: str = "TrainFlow", *, user: str = "alice", tags: Sequence[str] = ()
    ) -> str:
        """start -> train (a foreach over two items) -> end, with artifacts, logs and code."""
        run_id = self.run(flow, user=user, tags=tags, parameters={"alpha": 0.5}, with_code=True)
        self.task(
            flow,
            run_id,
            "start",
            "1",
            artifacts={"alpha": 0.5, "items": ["a", "b"]},
            stdout="starting\n",
        )
        for index, (item, score) in enumerate([("a", 0.9), ("b", 0.8)]):
            self.task(
                flow,
                run_id,
                "train",
                str(2 + index),
                artifacts={"alpha": 0.5, "item": item, "score": score},
                stdout=f"training {item}\n",
                stderr=f"warning {item}\n",
                foreach_stack=[ForeachFrame("start", "items", index, 2)],
            )
        self.task(
            flow,
            run_id,
            "end",
            "4",
            artifacts={"model": {"weights": [1, 2, 3]}, "score": 0.9},
            stdout="done\n",
        )
        self.finish(flow, run_id)
        return run_id

    def failed_run(self, flow: str = "TrainFlow", *, user: str = "alice") -> str:
        """start succeeds, train fails with a traceback, the run fails."""
        run_id = self.run(flow, user=user, parameters={"alpha": 2.0})
        self.task(flow, run_id, "start", "1", artifacts={"alpha": 2.0}, stdout="starting\n")
        self.task(
            flow,
            run_id,
            "train",
            "2",
            status=TaskStatus.FAILED,
            stderr="Traceback ...\nValueError: alpha too large\n",
            error="ValueError: alpha too large",
        )
        self.finish(flow, run_id, RunStatus.FAILED)
        return run_id

    def _code_tarball(self) -> bytes:
        code_dir = self.root / "code"
        code_dir.mkdir(exist_ok=True)
        flow_file = code_dir / "train_flow.py"
        flow_file.write_text(FLOW_SOURCE)
        return snapshot_code(flow_file)


def open_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> History:
    """Point the configuration at fresh stores under `tmp_path`, as user alice, and open them.

    Also re-reads the configuration, and resets the namespace a test may have changed.
    """
    datastore = tmp_path / "store"
    metadata_url = f"sqlite:///{tmp_path / 'metadata.db'}"
    monkeypatch.setenv("SHIPYARD_DATASTORE", str(datastore))
    monkeypatch.setenv("SHIPYARD_METADATA", metadata_url)
    monkeypatch.setenv("SHIPYARD_USER", "alice")
    monkeypatch.setenv("SHIPYARD_CONFIG", str(tmp_path / "absent-config.toml"))
    Config.reload()
    default_namespace()
    return History(open_metadata(metadata_url), ArtifactStore(BlobStore(str(datastore))), tmp_path)


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[History]:
    written = open_history(tmp_path, monkeypatch)
    yield written
    written.metadata.close()
    default_namespace()
