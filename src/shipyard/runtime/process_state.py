"""Leaving a reused process as a task found it: environment, directory, signals, timer.

A Ray worker runs task after task, and the inline executor runs every task in the runner
itself; what one step changes (`os.environ`, `os.chdir`, `@timeout`'s SIGALRM handler and
timer, a SIGINT handler) must not leak into the next task or the runner.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

#: Handlers a step (or a decorator around it) may install in its process.
_SIGNALS = (signal.SIGALRM, signal.SIGINT)


@contextlib.contextmanager
def restored_process_state() -> Iterator[None]:
    """Undo on exit what the block changed in env, cwd, signal handlers and the alarm timer.

    Call it in the main thread: signal handlers can only be set there.
    """
    environ = dict(os.environ)
    cwd = os.getcwd()
    handlers = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in handlers.items():
            if handler is not None:  # None: installed outside Python, nothing to put back
                signal.signal(signum, handler)
        if os.environ != environ:
            os.environ.clear()
            os.environ.update(environ)
        with contextlib.suppress(OSError):
            os.chdir(cwd)
