"""The Ray executor: every task becomes a Ray task on a cluster (or a local Ray instance).

The driver only schedules; each Ray task calls the task entrypoint (`runtime.worker`)
in-process with the spec as JSON: it loads the flow from the run's code snapshot in the
datastore and reads and writes artifacts there directly, so nothing large passes through
the driver and a worker needs nothing but the datastore URL and an installed Shipyard.

Ray worker processes are reused from task to task (that is what makes a Ray task cheap), so
a task leaves the process as it found it: environment, working directory, signal handlers
and standard streams are restored afterwards.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.config import Config
from shipyard.datastore.urls import protocol
from shipyard.exceptions import ShipyardError
from shipyard.flow.graph import FlowGraph
from shipyard.runtime.capture import LogFiles
from shipyard.runtime.process_state import restored_process_state
from shipyard.runtime.ray_salvage import LogSalvager
from shipyard.runtime.resources import (
    ExecutorLimits,
    describe_request,
    first_unfit_step,
    unfit_gang,
)
from shipyard.runtime.spec import TaskResult, TaskSpec
from shipyard.runtime.worker import run_task_json, task_log_files

if TYPE_CHECKING:
    from ray import ObjectRef

__all__ = ["RayExecutor", "check_datastore_reachable", "import_ray"]

INSTALL_HINT = "install it with: pip install 'shipyard[ray]'"
#: How long cluster totals are trusted before asking Ray again (autoscaling clusters grow).
_LIMITS_TTL_SECONDS = 5.0
_MB = 1 << 20
#: How Ray's `NodeDiedError` names the node (it has no attribute for it, only its message).
_DIED_NODE_ID = re.compile(r"node ID: ([0-9a-f]{16,})", re.IGNORECASE)


def import_ray() -> Any:
    """The `ray` module, or a clear error saying how to get it."""
    _send_auth_token()  # read by Ray when it is imported, so set before
    try:
        import ray
    except ImportError:
        raise ShipyardError(
            f"--executor ray needs Ray, which is not installed; {INSTALL_HINT}"
        ) from None
    return ray


@dataclass(frozen=True)
class _Node:
    node_id: str
    address: str
    cpu: float
    memory_mb: int
    gpu: int


class RayExecutor:
    """Submits each task as a Ray task sized by the step's `@resources`.

    `address` is a head node's `host:port` (the driver joins the cluster, so it must reach
    the cluster's network; Ray Client `ray://` addresses are not supported), `auto` (the
    cluster this machine belongs to, else a new local instance) or `local` (always a new
    local instance, with `max_workers` CPUs if given).
    """

    def __init__(self, address: str, config: Config, max_workers: int | None = None) -> None:
        self._ray = import_ray()
        self._address = address or "auto"
        self._config = config
        self._datastore_url = config.datastore
        self._worker: WorkerContext | None = None
        self._max_workers = max_workers
        self._running: dict[ObjectRef, tuple[TaskSpec, float | None]] = {}
        self._remote: Any = None
        self._salvager: LogSalvager | None = None
        #: Nodes that Ray said died under a task: they may still be listed alive for a while.
        self._dead_nodes: set[str] = set()
        self._started_local = False
        self._limits: ExecutorLimits | None = None
        self._limits_read_at = 0.0
        #: `@parallel` gangs by control task id: members submitted so far, then the
        #: placement group of a placed gang and how many of its tasks still run.
        self._gang_members: dict[str, list[TaskSpec]] = {}
        self._gangs: dict[str, tuple[Any, int]] = {}

    # -- starting ------------------------------------------------------------------------

    def start(self) -> None:
        ray = self._ray
        self._connect(
            {
                "namespace": "shipyard",
                # Task output is captured into the datastore; Ray's echo would garble progress.
                "log_to_driver": False,
                "logging_level": logging.WARNING,
            }
        )
        try:
            self._datastore_url = check_datastore_reachable(
                self._config.datastore,
                [node.address for node in self._nodes()],
                _local_addresses(ray),
            )
            self._worker = WorkerContext(
                host=socket.gethostname(),
                cwd=os.getcwd(),
                environ={
                    "SHIPYARD_DATASTORE": self._datastore_url,
                    "SHIPYARD_METADATA": _absolute_sqlite(self._config.metadata),
                    "SHIPYARD_USER": self._config.user,
                },
            )
            self._remote = ray.remote(max_retries=0, retry_exceptions=False)(run_ray_task)
            self._salvager = LogSalvager(ray)
        except BaseException:
            self.shutdown()
            raise

    def _connect(self, options: dict[str, Any]) -> None:
        """Join the cluster `--ray-address` names, or start a local instance when told to
        (`local`) or when `auto` finds no cluster that answers."""
        address = _find_cluster() if self._address == "auto" else self._address
        if address is not None and address.startswith("ray://"):
            raise ShipyardError(
                f"{address} is a Ray Client address, which Shipyard does not support: run the "
                "flow on a machine in the cluster's network and give the head node's "
                "HOST:PORT (e.g. --ray-address 10.0.0.5:6379)"
            )
        if address is None or address == "local":
            self._start_local(options)
            return
        try:
            _probe(address)
            self._ray.init(address=address, **options)
        except ConnectionError as exc:
            if self._address != "auto":
                raise ShipyardError(
                    f"cannot connect to the Ray cluster at {address}: {exc}. Check "
                    "--ray-address (or SHIPYARD_RAY_ADDRESS), or start a cluster with "
                    "`ray start --head`. If the cluster answers but refuses this machine "
                    "(Ray 2.59+ requires a token when the head node has ~/.ray/auth_token), "
                    "give this machine the same token: copy that file here or set "
                    "RAY_AUTH_TOKEN"
                ) from None
            self._start_local(options)
        else:
            self._address = address

    def _start_local(self, options: dict[str, Any]) -> None:
        self._ray.init(
            address="local", num_cpus=self._max_workers, include_dashboard=False, **options
        )
        self._started_local = True

    @property
    def description(self) -> str:
        if self._started_local:
            return "a local Ray instance"
        return f"the Ray cluster at {self._address}"

    @property
    def datastore_url(self) -> str:
        """The datastore as workers must address it (a local path made absolute)."""
        return self._datastore_url

    # -- capacity ------------------------------------------------------------------------

    def _nodes(self) -> list[_Node]:
        nodes = []
        for node in self._ray.nodes():
            if not node.get("Alive"):
                continue
            held = node.get("Resources", {})
            nodes.append(
                _Node(
                    node_id=node["NodeID"],
                    address=node["NodeManagerAddress"],
                    cpu=float(held.get("CPU", 0)),
                    memory_mb=int(held.get("memory", 0) // _MB),
                    gpu=int(held.get("GPU", 0)),
                )
            )
        return nodes

    @property
    def limits(self) -> ExecutorLimits:
        """The cluster's totals, re-read every few seconds so that a growing cluster is used.

        The scheduler admits tasks against these, so what it has submitted is what Ray can
        run now: progress shows tasks as Ray schedules them, not a thousand queued in Ray.
        """
        now = time.monotonic()
        if self._limits is None or now - self._limits_read_at > _LIMITS_TTL_SECONDS:
            total = self._ray.cluster_resources()
            self._limits = ExecutorLimits(
                cpu=float(total.get("CPU", 0)),
                memory=int(total.get("memory", 0) // _MB) or None,
                gpu=int(total.get("GPU", 0)),
                max_tasks=self._max_workers or 1_000_000,
            )
            self._limits_read_at = now
        return self._limits

    def check_requests(self, graph: FlowGraph) -> None:
        """Refuse, before anything runs, a step that no node of the cluster could ever hold.

        Ray would otherwise queue such a task forever. A step that fits a node but not what
        is free right now simply waits for running tasks to finish.
        """
        nodes = self._nodes()
        capacities = [ExecutorLimits(n.cpu, n.memory_mb, n.gpu, max_tasks=1) for n in nodes]
        unfit = first_unfit_step(graph, capacities)
        if unfit is not None:
            listing = ", ".join(
                f"{n.address} (cpu={n.cpu:g}, memory={n.memory_mb} MB, gpu={n.gpu})" for n in nodes
            )
            raise ShipyardError(
                f"{describe_request(*unfit)}, but no node of {self.description} has that "
                f"much; its nodes: {listing or 'none'}. Lower the step's @resources or add a "
                "node that large to the cluster"
            )
        gang = unfit_gang(graph, self.limits)
        if gang is not None:
            raise ShipyardError(
                f"{gang}, but {self.description} has {self.limits.cpu:g} CPUs and "
                f"{self.limits.gpu} GPUs in all. Lower num_parallel or the step's @resources, "
                "or add nodes to the cluster"
            )

    # -- running -------------------------------------------------------------------------

    def submit(self, spec: TaskSpec) -> None:
        gang = spec.parallel
        if gang is not None and gang.num_nodes > 1 and spec.attempt == 0:
            self._submit_member(spec, gang.control_task_id or spec.task_id, gang.num_nodes)
        else:
            self._launch(spec, {})

    def cancel(self, spec: TaskSpec) -> None:
        for ref, (running, _deadline) in self._running.items():
            if running.key == spec.key:
                self._ray.cancel(ref, force=True)

    def _launch(self, spec: TaskSpec, options: dict[str, Any], group: Any = None) -> None:
        assert self._remote is not None, "start() the executor first"
        needed = spec.resources
        options = {**options, "num_cpus": needed.cpu, "num_gpus": needed.gpu}
        if needed.memory:
            options["memory"] = needed.memory * _MB
        spec_json = json.dumps(spec.to_json())
        ref = self._remote.options(**options).remote(spec_json, self._worker, group)
        deadline = time.monotonic() + spec.kill_after_seconds if spec.kill_after_seconds else None
        self._running[ref] = (spec, deadline)

    def _submit_member(self, spec: TaskSpec, gang_id: str, size: int) -> None:
        """Hold a `@parallel` gang's tasks until all are submitted, then place them together
        in one placement group: Ray reserves all of its bundles at once or none, so no member
        starts (and waits at the rendezvous) while a mate cannot."""
        members = self._gang_members.setdefault(gang_id, [])
        members.append(spec)
        if len(members) < size:
            return
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        group = placement_group([_bundle(m) for m in members], strategy="PACK")
        self._gangs[gang_id] = (group, size)
        for index, member in enumerate(members):
            strategy = PlacementGroupSchedulingStrategy(
                placement_group=group, placement_group_bundle_index=index
            )
            self._launch(member, {"scheduling_strategy": strategy}, group)
        del self._gang_members[gang_id]

    def _ended(self, ref: ObjectRef) -> TaskSpec:
        """Forget a task that ended; a gang's placement group goes with its last task."""
        spec, _deadline = self._running.pop(ref)
        gang = spec.parallel
        held = self._gangs.get(gang.control_task_id or "") if gang else None
        if gang is not None and held is not None:
            group, left = held
            self._gangs[gang.control_task_id or ""] = (group, left - 1)
            if left == 1:
                del self._gangs[gang.control_task_id or ""]
                self._ray.util.remove_placement_group(group)
        return spec

    def live_logs(self, spec: TaskSpec) -> LogFiles | None:
        """Where the task writes when its worker runs on this machine (`task_log_files`, one
        pair of files per attempt); from other nodes, its output comes with its result."""
        return task_log_files(spec)

    def wait(self, timeout: float | None) -> list[tuple[TaskSpec, TaskResult]]:
        """Collect ended tasks, and the dead tasks whose output the nodes have answered for.

        A dead task's salvage requests are waited on here with the running tasks, so the
        run goes on while they are pending: a node lost without Ray knowing yet may take
        many seconds to fail its request.
        """
        salvager = self._salvager
        assert salvager is not None, "start() the executor first"
        finished = self._kill_overdue()
        finished.extend(salvager.expire())
        refs = [*self._running, *salvager.refs]
        if not refs:
            if timeout and not finished:
                time.sleep(timeout)
            return finished
        until = 0.0 if finished else self._until_deadline(timeout)
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=until)
        if ready:
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in ready:
            if ref in self._running:
                spec = self._ended(ref)
                finished.extend(self._result(spec, ref))
        finished.extend(salvager.collect(ready))
        return finished

    def _until_deadline(self, timeout: float | None) -> float | None:
        assert self._salvager is not None
        deadlines = [d for _, d in self._running.values() if d is not None]
        if self._salvager.next_deadline is not None:
            deadlines.append(self._salvager.next_deadline)
        if not deadlines:
            return timeout
        left = max(0.0, min(deadlines) - time.monotonic())
        return left if timeout is None else min(timeout, left)

    def _kill_overdue(self) -> list[tuple[TaskSpec, TaskResult]]:
        """A step stuck where Python cannot interrupt it is killed once past its deadline."""
        now = time.monotonic()
        killed = []
        for ref, (spec, deadline) in list(self._running.items()):
            if deadline is not None and now >= deadline:
                self._ended(ref)
                self._ray.cancel(ref, force=True)
                error = (
                    f"the task ran past its @timeout and was killed after "
                    f"{spec.kill_after_seconds:g}s\n"
                )
                killed.extend(self._lost(spec, error))
        return killed

    def _result(self, spec: TaskSpec, ref: ObjectRef) -> list[tuple[TaskSpec, TaskResult]]:
        """The task's result; for a task whose worker died, its output is salvaged first."""
        exceptions = self._ray.exceptions
        try:
            return [(spec, TaskResult.from_json(json.loads(self._ray.get(ref))))]
        except exceptions.NodeDiedError as exc:
            why = self._node_died(exc)
        except exceptions.WorkerCrashedError:
            why = (
                "the Ray worker running the task died (the step exited the process, crashed "
                "or was killed, e.g. for using too much memory)\n"
            )
        except exceptions.OutOfMemoryError as exc:
            why = f"Ray killed the task for lack of memory: {exc}\n"
        except exceptions.TaskCancelledError:
            why = "the task was cancelled on the Ray cluster\n"
        except exceptions.RayError as exc:
            why = f"Ray could not run the task: {exc}\n"
        return self._lost(spec, why)

    def _node_died(self, error: Exception) -> str:
        """Why a task whose node died failed; the node, once known, is asked for nothing more."""
        found = _DIED_NODE_ID.search(str(error))
        if found is None:
            return f"the Ray node running the task died: {error}\n"
        node_id = found.group(1)
        self._dead_nodes.add(node_id)
        address = next((n.address for n in self._nodes() if n.node_id == node_id), None)
        where = f" at {address}" if address else ""
        return (
            f"the Ray node {node_id}{where} running the task died (its raylet crashed or was "
            "killed, or its machine was lost or preempted)\n"
        )

    def _lost(self, spec: TaskSpec, why: str) -> list[tuple[TaskSpec, TaskResult]]:
        """Start recovering the output of a task whose worker never reported back.

        Its files are on the node that ran it, which Ray does not say, so every live node is
        asked but the ones known dead. The result comes from `wait` once they have answered.
        """
        assert self._salvager is not None
        nodes = {
            node.node_id: f"node {node.node_id} at {node.address}"
            for node in self._nodes()
            if node.node_id not in self._dead_nodes
        }
        return self._salvager.start(spec, why, nodes)

    def shutdown(self) -> None:
        for ref in self._running:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
        self._running.clear()
        for group, _left in self._gangs.values():
            with contextlib.suppress(Exception):
                self._ray.util.remove_placement_group(group)
        self._gangs.clear()
        if self._salvager is not None:
            self._salvager.clear()
        if self._ray.is_initialized():
            self._ray.shutdown()


def _find_cluster() -> str | None:
    """What `auto` means: RAY_ADDRESS, else the cluster `ray start` last started here.

    Ray's own lookup trusts a stale address file and then retries for minutes; here a
    stale file only means there is no cluster, and a local instance is started instead.
    """
    given = os.environ.get("RAY_ADDRESS")
    if given:
        return given
    temp = os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp"
    try:
        address = Path(temp, "ray", "ray_current_cluster").read_text().strip()
    except OSError:
        return None
    try:
        _probe(address, seconds=1.0)
    except ConnectionError:
        return None
    return address or None


def _probe(address: str, seconds: float = 5.0) -> None:
    """Fail fast on a `host:port` nobody listens on: Ray itself retries for minutes."""
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {address} ({exc.strerror or exc})") from None


def _send_auth_token() -> None:
    """Make the driver present this machine's Ray token when it joins an existing cluster.

    `ray start --head` turns token authentication on when ~/.ray/auth_token exists, but
    `ray.init(address=...)` only sends the token when RAY_AUTH_MODE says so (Ray 2.59+), so
    the connection is refused. Asking for token mode when a token is at hand fixes that and
    is harmless against a cluster without authentication.
    """
    if os.environ.get("RAY_AUTH_MODE"):
        return
    token_file = os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token"
    if os.environ.get("RAY_AUTH_TOKEN") or Path(token_file).is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def _absolute_sqlite(url: str) -> str:
    """An SQLite URL with its relative path made absolute, so any working directory finds it."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith(prefix + "/") or url == prefix:
        return url
    return prefix + str(Path(url.removeprefix(prefix)).resolve())


def _local_addresses(ray: Any) -> set[str]:
    """Addresses by which a Ray node would be this very machine."""
    found = {"127.0.0.1", "localhost", socket.gethostname()}
    with contextlib.suppress(Exception):
        found.add(ray.util.get_node_ip_address())
    with contextlib.suppress(OSError):
        found.update(
            str(info[4][0])
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        )
    return {str(address) for address in found}


def check_datastore_reachable(url: str, node_addresses: list[str], local: set[str]) -> str:
    """The datastore URL workers on these nodes should use, or why they cannot use it.

    A plain directory only works when every node is this machine (or the directory is a
    shared mount at the same path everywhere, which the user must say with
    SHIPYARD_DATASTORE_SHARED=1). `memory://` lives inside one process and never works.
    """
    kind = protocol(url)
    if kind == "memory":
        raise ShipyardError(
            f"the datastore {url!r} lives in the memory of this process, which Ray workers "
            "cannot see. Use a directory or a URL every node can reach (s3://, gs://, ...)"
        )
    if kind not in {"file", "local"}:
        return url
    path = str(Path(url.removeprefix("file://")).expanduser().resolve())
    elsewhere = sorted({a for a in node_addresses if a not in local})
    if elsewhere and os.environ.get("SHIPYARD_DATASTORE_SHARED") != "1":
        raise ShipyardError(
            f"the datastore {path} is a directory on this machine, but the Ray cluster has "
            f"nodes on other machines ({', '.join(elsewhere)}) that cannot read or write it. "
            "Set SHIPYARD_DATASTORE to a URL every node can reach (s3://bucket/prefix, "
            "gs://...), or, if the directory is a shared mount (NFS, ...) at the same path "
            "on every node, set SHIPYARD_DATASTORE_SHARED=1"
        )
    return path


# -- the worker side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerContext:
    """What a task takes along from the driver besides its spec.

    Steps see the driver's Shipyard configuration (so `models.register` in a step writes to
    the same metadata store), and on the driver's own machine they also start in its
    working directory, so relative paths mean what they mean with the local executor.
    """

    host: str
    cwd: str
    environ: dict[str, str]


def _bundle(spec: TaskSpec) -> dict[str, float]:
    """A gang member's reservation in its placement group, as Ray names resources."""
    needed = spec.resources
    wanted = {"CPU": needed.cpu, "GPU": needed.gpu, "memory": needed.memory * _MB}
    return {name: float(amount) for name, amount in wanted.items() if amount}


def _with_main_ip(spec_json: str, group: Any) -> str:
    """The spec with the address of the node holding the gang's node 0 (its bundle 0)."""
    import ray

    node_id = ray.util.placement_group_table(group)["bundles_to_node_id"][0]
    address = next(n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node_id)
    data = json.loads(spec_json)
    data["parallel"]["main_ip"] = address
    return json.dumps(data)


def run_ray_task(spec_json: str, worker: WorkerContext, gang: Any = None) -> str:
    """Body of a Ray task: the task entrypoint, in this reused worker, which it leaves tidy.

    Takes and returns JSON documents (`TaskSpec`, `TaskResult`) as the entrypoint does; the
    output goes to the task's known log files (`task_log_files`), which `ray_salvage`
    recovers if the worker dies. A `@parallel` task gets its gang's placement group, to
    learn where node 0 runs.
    """
    if gang is not None:
        spec_json = _with_main_ip(spec_json, gang)
    with restored_process_state():
        os.environ.update(worker.environ)
        Config.reload()  # the worker process is reused: this run's configuration, not the last's
        if worker.host == socket.gethostname() and os.path.isdir(worker.cwd):
            os.chdir(worker.cwd)
        return run_task_json(spec_json)
