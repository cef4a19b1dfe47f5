"""Micro-batching: concurrent requests for one model grouped into a single `predict` call.

A model's `predict` costs much the same for one row as for fifty (the fixed cost is Python
and pandas overhead), so under load grouping requests multiplies throughput. Each slot has
one batcher: a task on the event loop takes the first waiting request, gathers whatever
else arrives within `max_wait_ms` up to `max_batch` rows, and hands the group to a worker
thread. Only one group per model is in flight at a time; while it runs, the next group
forms, so batches grow exactly when the server is busy.

A bad request must fail alone. The group is scored as one frame, which `predict` checks
against the model's signature; if that fails, for a wrong column or value or for a model
that chokes on one request's rows, the group is split and every request is checked and
scored on its own, so the error lands only on the request that caused it. Checking each
request before grouping would give the same answers, but costs a signature check per
request (more than a one-row prediction) on the happy path; the split costs a little
more, and only when some request is bad.

Requests that name entities instead of sending rows join the same groups: their vectors
are looked up for the whole group at once (`entities.OnlineLookup`), so concurrent
requests share one online-store round trip as they share one `predict`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from shipyard.registry.signature import SignatureError
from shipyard.serving.entities import Columns, OnlineLookup
from shipyard.serving.errors import InvalidInput, ModelNotReady, PredictionFailed
from shipyard.serving.types import ServableModel

logger = logging.getLogger("shipyard.serving")


@dataclass(frozen=True)
class Rows:
    """The rows of one request, as sent: a list of records, a mapping of columns, or the
    entities whose vectors to score (looked up in the online store)."""

    records: list[dict[str, Any]] | None = None
    columns: dict[str, list[Any]] | None = None
    entities: list[dict[str, Any]] | None = None

    @property
    def count(self) -> int:
        if self.records is not None:
            return len(self.records)
        if self.entities is not None:
            return len(self.entities)
        assert self.columns is not None
        return len(next(iter(self.columns.values()), []))

    def column_lists(self) -> dict[str, list[Any]]:
        """The rows as columns (the request schema made every record share its keys)."""
        if self.columns is not None:
            return self.columns
        assert self.records is not None, "entities become columns through an OnlineLookup"
        return {key: [record[key] for record in self.records] for key in self.records[0]}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.column_lists())


@dataclass(frozen=True)
class Scored:
    """One request's predictions and the version that made them."""

    version: int
    predictions: list[Any]


@dataclass
class _Pending:
    rows: Rows
    future: asyncio.Future[Scored]
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = self.rows.count


# Called after each predict call with (model, rows, requests), e.g. to feed a histogram.
BatchObserver = Callable[[ServableModel, int, int], None]
# Called on a prediction thread with each frame a model predicted, e.g. to log a sample.
FrameObserver = Callable[[ServableModel, pd.DataFrame], None]


class MicroBatcher:
    """Groups the requests of one model and scores each group in a worker thread."""

    def __init__(
        self,
        model: Callable[[], ServableModel | None],
        *,
        max_batch: int = 64,
        max_wait_ms: float = 2.0,
        observe: BatchObserver | None = None,
        entities: OnlineLookup | None = None,
        served: FrameObserver | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must not be negative, not {max_wait_ms}")
        self._model = model
        self._executor: Executor | None = None
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._observe = observe
        self._score = partial(score_group, entities=entities, served=served)
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._carried: _Pending | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, executor: Executor) -> None:
        """Begin scoring groups on `executor`'s threads (one group in flight at a time)."""
        self._executor = executor
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._fail_waiting(ModelNotReady("the server is shutting down"))

    async def submit(self, rows: Rows) -> Scored:
        """Score `rows` as part of the next group; raises the request's own error."""
        if self._model() is None:
            raise ModelNotReady("the model has not loaded yet; retry shortly (see /readyz)")
        future: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(rows, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = await self._gather()
            model = self._model()
            if model is None:
                _fail_all(group, ModelNotReady("the model is not loaded"))
                continue
            try:
                outcomes = await loop.run_in_executor(self._executor, self._score, model, group)
            except Exception as exc:  # a bug here must not stop the batcher for good
                logger.exception("scoring a batch of %s failed", model.name)
                _fail_all(group, PredictionFailed(f"scoring failed: {exc}"))
                continue
            for pending, outcome in zip(group, outcomes, strict=True):
                if pending.future.done():  # the client went away
                    continue
                if isinstance(outcome, BaseException):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(Scored(model.version, outcome))
            if self._observe is not None:
                scored = [
                    p
                    for p, o in zip(group, outcomes, strict=True)
                    if not isinstance(o, BaseException)
                ]
                if scored:
                    self._observe(model, sum(p.count for p in scored), len(scored))

    async def _gather(self) -> list[_Pending]:
        """The next group: the first waiting request, then more until full or out of time."""
        first = self._carried or await self._queue.get()
        self._carried = None
        group, rows = [first], first.count
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while rows < self.max_batch:
            try:
                pending = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    pending = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if rows + pending.count > self.max_batch:
                # Too big to join: it leads the next group instead of waiting behind it.
                self._carried = pending
                break
            group.append(pending)
            rows += pending.count
        return [p for p in group if not p.future.done()] or await self._gather()

    def _fail_waiting(self, error: Exception) -> None:
        waiting = [self._carried] if self._carried else []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        _fail_all(waiting, error)


def _fail_all(group: list[_Pending], error: Exception) -> None:
    for pending in group:
        if not pending.future.done():
            pending.future.set_exception(error)


def score_group(
    model: ServableModel,
    group: list[_Pending],
    *,
    entities: OnlineLookup | None = None,
    served: FrameObserver | None = None,
) -> list[list[Any] | Exception]:
    """Predictions (or the error) for each request of `group`; runs in a worker thread.

    The entity requests of the group are looked up first, all in one call of `entities`;
    then every request is rows as columns. The common case costs one frame and one
    `predict` (which checks the signature) for the whole group: checking each request's
    small frame first would cost more than the prediction itself. Only when the group fails
    is each request scored on its own, so the error reaches just the request that caused it.
    `served` sees each frame predicted.
    """
    inputs = _group_columns(model, [pending.rows for pending in group], entities)
    ready = [found for found in inputs if not isinstance(found, Exception)]
    scored = iter(_score_columns(model, ready, served))
    return [found if isinstance(found, Exception) else next(scored) for found in inputs]


def _group_columns(
    model: ServableModel, rows: list[Rows], entities: OnlineLookup | None
) -> list[Columns | Exception]:
    """Each request's rows as columns; the entity requests looked up together."""
    asked = [r.entities for r in rows if r.entities is not None]
    if not asked:
        return [r.column_lists() for r in rows]
    if entities is None:
        looked_up: list[Columns | Exception] = [
            InvalidInput("this server does not score entities; send 'records' or 'columns'")
        ] * len(asked)
    else:
        looked_up = entities.columns(model, asked)
    answers = iter(looked_up)
    return [next(answers) if r.entities is not None else r.column_lists() for r in rows]


def _score_columns(
    model: ServableModel, columns: list[Columns], served: FrameObserver | None
) -> list[list[Any] | Exception]:
    if not columns:
        return []
    if len(columns) == 1 or len({frozenset(c) for c in columns}) > 1:
        # Requests with different columns cannot share a frame without inventing nulls
        # for the columns some of them lack, which the signature might then accept.
        return [_score_alone(model, c, served) for c in columns]
    try:
        joined = pd.DataFrame({name: _concat(c[name] for c in columns) for name in columns[0]})
        predictions = _predict(model, joined, served)
    except Exception:
        return [_score_alone(model, c, served) for c in columns]
    outcomes: list[list[Any] | Exception] = []
    start = 0
    for request in columns:
        count = len(next(iter(request.values()), []))
        outcomes.append(predictions[start : start + count])
        start += count
    return outcomes


def _concat(lists: Iterable[list[Any]]) -> list[Any]:
    joined: list[Any] = []
    for values in lists:
        joined.extend(values)
    return joined


def _score_alone(
    model: ServableModel, columns: Columns, served: FrameObserver | None
) -> list[Any] | Exception:
    try:
        frame = pd.DataFrame(columns)
    except (ValueError, TypeError) as exc:
        return InvalidInput(f"the rows cannot form a table: {exc}")
    try:
        return _predict(model, frame, served)
    except Exception as exc:
        return _model_error(model, exc)


def _predict(model: ServableModel, frame: pd.DataFrame, served: FrameObserver | None) -> list[Any]:
    predictions = list(model.predict(frame))
    if len(predictions) != len(frame):
        raise PredictionFailed(
            f"{model.name}/{model.version} returned {len(predictions)} predictions for "
            f"{len(frame)} rows"
        )
    if served is not None:
        served(model, frame)
    return predictions


def _model_error(model: ServableModel, exc: Exception) -> Exception:
    if isinstance(exc, PredictionFailed):
        return exc
    if isinstance(exc, SignatureError):
        return InvalidInput(str(exc))
    logger.error("%s/%s raised %s: %s", model.name, model.version, type(exc).__name__, exc)
    return PredictionFailed(
        f"{model.name}/{model.version} failed to predict: {type(exc).__name__}: {exc}"
    )
