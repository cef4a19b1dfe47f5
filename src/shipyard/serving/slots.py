"""A model slot: one served reference (`ranker@production`) and the version it answers with.

The slot follows its reference without a restart: a background task resolves the reference
every `poll_seconds`; when it points at a new version, that version is loaded in a worker
thread while the old one keeps serving, and then the slot's reference is swapped in one
assignment. A request (or micro-batch) takes the model object once and keeps it, so work
in flight finishes on the version it started with. A failed load is logged and the old
version stays: a broken new version must not take a working endpoint down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from shipyard.registry.refs import ModelRef
from shipyard.serving.types import ServableModel

logger = logging.getLogger("shipyard.serving")

# After a failed load, wait this long before trying the same version again, doubling up to
# the cap: a corrupt blob should not be re-downloaded every poll.
_RETRY_FIRST_SECONDS = 1.0
_RETRY_MAX_SECONDS = 60.0


@dataclass(frozen=True)
class _Failure:
    key: tuple[str, int]
    retry_at: float
    delay: float


def served_name(ref: str) -> str:
    """The model name in a reference: `ranker` for `ranker@production`, `ranker/3`, `ranker`.

    Raises `ValueError` for text that is not a reference, before anything is served.
    """
    return ModelRef.parse(ref).name


class ModelSlot:
    """The currently loaded version of one served reference, kept up to date in the background.

    `resolve(ref)` returns what the reference points at (anything with `.name` and
    `.version`), `load(resolved)` a ready model. Both block, so they run on the executor
    given to `start`; one executor shared by all slots serialises calls into the model
    store, which need
    not be thread-safe.
    """

    def __init__(
        self,
        ref: str,
        resolve: Callable[[str], Any],
        load: Callable[[Any], ServableModel],
        *,
        poll_seconds: float = 2.0,
        on_change: Callable[[ModelSlot], None] | None = None,
        on_load: Callable[[ModelSlot, bool], None] | None = None,
    ) -> None:
        self.ref = ref
        self.name = served_name(ref)
        self.poll_seconds = poll_seconds
        self._resolve = resolve
        self._load = load
        self._executor: Executor | None = None
        self._on_change = on_change
        self._on_load = on_load
        self._model: ServableModel | None = None
        self._failure: _Failure | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    @property
    def model(self) -> ServableModel | None:
        """The version serving now; None until the first load succeeds."""
        return self._model

    @property
    def ready(self) -> bool:
        return self._model is not None

    def start(self, executor: Executor | None = None) -> None:
        """Begin loading and following the reference on `executor`'s threads (the loop's
        default executor if None); returns at once (see `/readyz`)."""
        self._executor = executor
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._follow(), name=f"shipyard-slot-{self.name}"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> bool:
        """Resolve the reference once and swap in the version it names if it moved.

        Returns whether the served version changed. Never raises for a store or model
        failure: those are logged and the current version keeps serving.
        """
        loop = asyncio.get_running_loop()
        try:
            resolved = await loop.run_in_executor(self._executor, self._resolve, self.ref)
        except Exception as exc:
            self._note_error(f"cannot resolve {self.ref}: {type(exc).__name__}: {exc}")
            return False
        key = (str(resolved.name), int(resolved.version))
        current = self._model
        if current is not None and (current.name, current.version) == key:
            return False
        if not self._may_try(key):
            return False
        try:
            model = await loop.run_in_executor(self._executor, self._load, resolved)
        except Exception as exc:
            self._remember_failure(key)
            self._note_error(
                f"cannot load {key[0]}/{key[1]} for {self.ref}: "
                f"{type(exc).__name__}: {exc}; still serving "
                f"{_describe(current)}"
            )
            if self._on_load is not None:
                self._on_load(self, False)
            return False
        # The swap: one reference assignment, atomic for every reader on the loop and in
        # worker threads. Whoever holds the old object finishes with it.
        self._model = model
        self._failure = None
        self.last_error = None
        logger.info(
            "%s now serves %s/%s (was %s)", self.ref, model.name, model.version, _describe(current)
        )
        if self._on_load is not None:
            self._on_load(self, True)
        if self._on_change is not None:
            self._on_change(self)
        return True

    async def _follow(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.poll_seconds)

    def _may_try(self, key: tuple[str, int]) -> bool:
        failure = self._failure
        return failure is None or failure.key != key or time.monotonic() >= failure.retry_at

    def _remember_failure(self, key: tuple[str, int]) -> None:
        previous = self._failure
        if previous is not None and previous.key == key:
            delay = min(previous.delay * 2, _RETRY_MAX_SECONDS)
        else:
            delay = _RETRY_FIRST_SECONDS
        self._failure = _Failure(key, time.monotonic() + delay, delay)

    def _note_error(self, message: str) -> None:
        # The same error every poll would flood the log; say it once until it changes.
        if message != self.last_error:
            logger.error(message)
        self.last_error = message


def _describe(model: ServableModel | None) -> str:
    return "nothing" if model is None else f"{model.name}/{model.version}"
