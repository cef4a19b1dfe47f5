"""What every benchmark shares: sandboxes, isolated environments, and measured commands.

Every command runs in a fresh temporary directory as its working directory, with an
environment that keeps the tool's stores (and its temporary files) inside that directory and
ignores the user's own configuration, through `measure.py` in a process of its own, under a
timeout. Nothing here compares results; `report.py` does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.goals import Figure

BENCH_DIR = Path(__file__).resolve().parent
SOURCE_DIR = BENCH_DIR.parent / "src"
# Compiled bytecode of every run goes here, inside the benchmark environment and out of the
# source tree: both tools start from warm caches, as they would on a user's machine.
PYCACHE = Path(sys.prefix) / "pycache"
PEERS_DIR = BENCH_DIR / "peers"
MEASURE = BENCH_DIR / "measure.py"
# The wrapper gets this long beyond the command's own timeout before it is killed itself.
_WRAPPER_SLACK_SECONDS = 60.0
# Variables that would point a tool at the user's stores, profile or telemetry.
_FOREIGN_PREFIXES = ("SHIPYARD_", "METAFLOW_", "OTEL_")


@dataclass(frozen=True)
class Options:
    """How thoroughly to measure: `quick` repeats less and skips the slowest peer runs."""

    quick: bool = False
    keep: bool = False

    def repeats(self, full: int) -> int:
        return 1 if self.quick else full


@dataclass(frozen=True)
class Measurement:
    """One command run once: what `measure.py` reported, plus the tail of its output."""

    label: str
    seconds: float
    returncode: int | None
    timed_out: bool
    max_rss_largest_process: int
    peak_tree_pss: int | None
    peak_tree_rss: int | None
    leftover_processes: int
    output_tail: str
    timeout: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        """One paragraph saying how the command failed, for the notes of a result."""
        if self.timed_out:
            how = f"timed out after {self.timeout:.0f} s"
        else:
            how = f"exited with {self.returncode}"
        return f"{self.label}: {how}; last output:\n{self.output_tail}"

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "seconds": self.seconds,
            "returncode": self.returncode,
            "timed_out": self.timed_out,
            "max_rss_largest_process": self.max_rss_largest_process,
            "peak_tree_pss": self.peak_tree_pss,
            "peak_tree_rss": self.peak_tree_rss,
            "leftover_processes": self.leftover_processes,
            "timeout": self.timeout,
        }


@dataclass
class Sandbox:
    """A fresh temporary directory: the working directory and the stores of one tool's runs."""

    root: Path
    _count: int = field(default=0, repr=False)

    @classmethod
    @contextmanager
    def create(cls, name: str, keep: bool = False) -> Iterator[Sandbox]:
        root = Path(tempfile.mkdtemp(prefix=f"shipyard-bench-{name}-"))
        (root / "tmp").mkdir()
        (root / ".bench").mkdir()
        try:
            yield cls(root)
        finally:
            if keep:
                print(f"  kept {root}", file=sys.stderr)
            else:
                shutil.rmtree(root, ignore_errors=True)

    def copy_in(self, source: Path) -> Path:
        """Copy a flow file in, so each tool sees only its own file beside it."""
        target = self.root / source.name
        shutil.copyfile(source, target)
        return target

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["TMPDIR"] = str(self.root / "tmp")
        return env

    def shipyard_env(self) -> dict[str, str]:
        env = self.base_env()
        # The code of this checkout, whose commit the results carry, even when the
        # environment's editable install points at another checkout.
        env["PYTHONPATH"] = str(SOURCE_DIR)
        env["SHIPYARD_DATASTORE"] = str(self.root / ".shipyard")
        env["SHIPYARD_USER"] = "bench"
        # A path that does not exist: ~/.shipyard/config.toml must not leak in.
        env["SHIPYARD_CONFIG"] = str(self.root / "no-shipyard-config.toml")
        return env

    def metaflow_env(self) -> dict[str, str]:
        env = self.base_env()
        env.update(
            METAFLOW_DEFAULT_DATASTORE="local",
            METAFLOW_DEFAULT_METADATA="local",
            METAFLOW_DATASTORE_SYSROOT_LOCAL=str(self.root),
            # Its config directory and profile: an empty one, not ~/.metaflowconfig.
            METAFLOW_HOME=str(self.root / "metaflow-home"),
            # Both are the defaults; pinned so that no sidecar ships events anywhere.
            METAFLOW_DEFAULT_EVENT_LOGGER="nullSidecarLogger",
            METAFLOW_DEFAULT_MONITOR="nullSidecarMonitor",
            USERNAME="bench",
            USER="bench",
        )
        env.pop("METAFLOW_PROFILE", None)
        return env

    def run(
        self,
        label: str,
        argv: Sequence[str],
        env: dict[str, str],
        timeout: float,
        memory_interval: float = 0.0,
    ) -> Measurement:
        """Run `argv` here once through `measure.py`; never raises for the command's failure."""
        self._count += 1
        stem = self.root / ".bench" / f"{self._count:03d}"
        log, out = stem.with_suffix(".log"), stem.with_suffix(".json")
        wrapper = [sys.executable, str(MEASURE), "--timeout", str(timeout)]
        wrapper += ["--interval", str(memory_interval), "--log", str(log), "--out", str(out)]
        wrapper += ["--", *argv]
        try:
            subprocess.run(
                wrapper,
                cwd=self.root,
                env=env,
                timeout=timeout + _WRAPPER_SLACK_SECONDS,
                check=True,
                stdin=subprocess.DEVNULL,
            )
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
            raise RuntimeError(f"the measuring wrapper failed for {label}: {exc}") from exc
        figures = json.loads(out.read_text())
        measurement = Measurement(
            label=label,
            seconds=figures["seconds"],
            returncode=figures["returncode"],
            timed_out=figures["timed_out"],
            max_rss_largest_process=figures["max_rss_largest_process"],
            peak_tree_pss=figures["peak_tree_pss"],
            peak_tree_rss=figures["peak_tree_rss"],
            leftover_processes=figures["leftover_processes"],
            output_tail=_tail(log),
            timeout=timeout,
        )
        _print_progress(measurement)
        return measurement


def _print_progress(m: Measurement) -> None:
    status = "" if m.ok else ("  TIMED OUT" if m.timed_out else f"  FAILED (exit {m.returncode})")
    memory = f", max RSS {m.max_rss_largest_process / 2**30:.2f} GiB"
    if m.peak_tree_pss is not None:
        memory += f", tree PSS {m.peak_tree_pss / 2**30:.2f} GiB"
    print(f"    {m.label}: {m.seconds:.3f} s{memory}{status}", flush=True)


def _tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def python() -> str:
    """The benchmark environment's interpreter: Shipyard and the peers are installed in it."""
    return sys.executable


def settle_disk() -> None:
    """Flush dirty pages, so a run does not pay for the writes of the one before it."""
    os.sync()


Case = Callable[[], Measurement]


def interleave(
    cases: dict[str, Case], times: int, slow_after: float = float("inf")
) -> dict[str, list[Measurement]]:
    """Run each case up to `times` times, round by round, so drift hits every case alike.

    A case stops repeating after a failure, or once one run took longer than `slow_after`
    seconds: a single run of something that slow is precise enough.
    """
    runs: dict[str, list[Measurement]] = {name: [] for name in cases}
    for _ in range(times):
        for name, case in cases.items():
            done = runs[name]
            if done and (not done[-1].ok or done[-1].seconds > slow_after):
                continue
            settle_disk()
            done.append(case())
    return runs


def seconds(runs: Sequence[Measurement]) -> Figure:
    """The wall-clock of each run; a failed run has none, so the figure is then incomplete
    and no statistic of it exists."""
    return Figure.of([m.seconds if m.ok else None for m in runs])


def failed_runs(runs: Sequence[Measurement]) -> list[str]:
    """How each failed run failed, for `BenchmarkResult.failed`."""
    return [m.failure() for m in runs if not m.ok]


def leftovers(runs: Sequence[Measurement]) -> list[str]:
    """Notes on processes that outlived their command (killed by `measure.py`)."""
    return [
        f"{m.label}: {m.leftover_processes} process(es) still running 5 s after the command "
        "ended were killed"
        for m in runs
        if m.leftover_processes
    ]


def check_same_work(ours: Path, peer: Path) -> None:
    """Fail unless the two flow files differ only in their import lines (and blank lines,
    which the import sorter places differently for first- and third-party packages).

    Keeping the files identical otherwise is what makes "the same work" checkable.
    """

    imports = ("from shipyard import", "from metaflow import")

    def body(path: Path) -> list[str]:
        lines = path.read_text().splitlines()
        return [line for line in lines if line.strip() and not line.startswith(imports)]

    if body(ours) != body(peer):
        raise RuntimeError(f"{peer.name} no longer does the same work as {ours.name}")


def disk_usage(path: Path) -> tuple[int, int] | None:
    """(bytes allocated on disk, apparent bytes) of every file under `path`, like du; None
    when `path` does not exist (nothing stored is not the same as stored in 0 bytes)."""
    allocated = apparent = 0
    if not path.is_dir():
        return None
    for dirpath, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            allocated += st.st_blocks * 512
            apparent += st.st_size
    return allocated, apparent
