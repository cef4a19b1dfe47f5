"""Run one command; report its wall-clock time and peak memory as JSON.

Started as a fresh process for every measurement because `RUSAGE_CHILDREN`'s `ru_maxrss` is
the largest resident set of any descendant this process has ever reaped, so it must not
carry over from one measurement to the next. The wrapper makes itself a child subreaper:
processes the command orphans (daemons, double forks, a fork server outliving its parent)
are re-parented here, so they are reaped here, counted by `ru_maxrss`, and seen by the
sampler; any still alive when the command ends are reported and killed.

Two memory figures, because neither tells everything alone:

- `max_rss_largest_process`: `ru_maxrss`, exact (the kernel tracks it), but only per process;
- `peak_tree_pss` / `peak_tree_rss`: the sum over the whole process tree, sampled every
  `--interval` seconds with psutil, so a peak shorter than the interval can be missed.
  PSS shares each shared page among the processes mapping it, so forked workers that share
  their parent's pages are not counted twice; RSS counts them in every process.

Standard library and psutil only: it runs with the benchmark environment's Python from any
working directory.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

_PR_SET_CHILD_SUBREAPER = 36
# How long orphans may keep running after the command ended before they are killed.
_ORPHAN_GRACE_SECONDS = 5.0


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only); False where the kernel does not allow it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class TreeSampler(threading.Thread):
    """Polls the memory of every descendant of this process and keeps the peaks."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_tree_rss = 0
        self.peak_tree_pss = 0
        self.peak_process_rss = 0
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._done.wait(self.interval):
            self.sample(me)

    def sample(self, me: psutil.Process) -> None:
        rss = pss = 0
        for process in me.children(recursive=True):
            try:
                info = process.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            rss += info.rss
            pss += info.pss
            self.peak_process_rss = max(self.peak_process_rss, info.rss)
        self.peak_tree_rss = max(self.peak_tree_rss, rss)
        self.peak_tree_pss = max(self.peak_tree_pss, pss)
        self.samples += 1

    def stop(self) -> None:
        self._done.set()
        if self.is_alive():
            self.join()


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _expire(pgid: int, expired: threading.Event) -> None:
    expired.set()
    kill_group(pgid)


def reap_orphans(grace: float) -> int:
    """Wait for adopted descendants to exit; kill those still running after `grace` seconds.

    Returns how many had to be killed.
    """
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0
        if pid == 0:
            time.sleep(0.05)
    leftovers = psutil.Process().children(recursive=True)
    for process in leftovers:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return len(leftovers)


def measure(argv: list[str], log: Path, timeout: float, interval: float) -> dict[str, object]:
    subreaper = become_subreaper()
    sampler = TreeSampler(interval) if interval > 0 else None
    if sampler:
        sampler.start()
    expired = threading.Event()
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        # Popen.wait(timeout) polls with sleeps of up to 50 ms, which would round every time
        # measured up to a multiple of 50 ms; a blocking wait returns the moment the command
        # exits, and a timer enforces the timeout.
        timer = threading.Timer(timeout, _expire, (process.pid, expired))
        timer.start()
        returncode: int | None = process.wait()
        seconds = time.perf_counter() - started
        timer.cancel()
    timed_out = expired.is_set()
    if timed_out:
        returncode = None
    # As a subreaper every surviving descendant is (under) one of our adopted children, so
    # reaping those covers the whole tree; without it, the process group is what we can reach.
    killed = reap_orphans(_ORPHAN_GRACE_SECONDS) if subreaper else 0
    kill_group(process.pid)
    if sampler:
        sampler.stop()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "argv": argv,
        "seconds": seconds,
        "returncode": returncode,
        "timed_out": timed_out,
        # Linux reports ru_maxrss in KiB.
        "max_rss_largest_process": usage.ru_maxrss * 1024,
        "peak_tree_rss": sampler.peak_tree_rss if sampler else None,
        "peak_tree_pss": sampler.peak_tree_pss if sampler else None,
        "peak_process_rss_sampled": sampler.peak_process_rss if sampler else None,
        "memory_samples": sampler.samples if sampler else 0,
        "sample_interval": interval,
        "subreaper": subreaper,
        "leftover_processes": killed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, required=True, help="Seconds before the kill.")
    parser.add_argument("--interval", type=float, default=0.0, help="Memory sampling; 0: off.")
    parser.add_argument("--log", type=Path, required=True, help="The command's output.")
    parser.add_argument("--out", type=Path, required=True, help="Where the JSON goes.")
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="-- then the command.")
    args = parser.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        parser.error("no command given")
    figures = measure(argv, args.log, args.timeout, args.interval)
    args.out.write_text(json.dumps(figures))
    sys.exit(0)


if __name__ == "__main__":
    main()
