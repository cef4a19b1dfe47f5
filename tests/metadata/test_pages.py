"""Paging through tasks and runs by key: what lets a UI walk a run of 100,000 tasks."""

from __future__ import annotations

import pytest

from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata import MetadataBackend, TaskRecord, TaskStatus

FLOW = "WideFlow"


def wide_run(store: MetadataBackend, width: int = 7) -> str:
    """start, `width` train tasks (the third retried once), end: in that creation order."""
    run_id = store.create_run(FLOW, "alice")
    tasks = [("start", "1"), *(("train", str(n)) for n in range(2, 2 + width)), ("end", "99")]
    for step, task_id in tasks:
        store.start_task(FLOW, run_id, step, task_id, attempt=0, foreach_stack=(), input_paths=())
    store.finish_task(
        FLOW,
        run_id,
        "train",
        "4",
        attempt=0,
        status=TaskStatus.FAILED,
        artifacts={},
        stdout_hash=None,
        stderr_hash=None,
        exit_code=1,
        error="boom",
    )
    store.start_task(FLOW, run_id, "train", "4", attempt=1, foreach_stack=(), input_paths=())
    return run_id


def all_pages(
    store: MetadataBackend, run_id: str, step: str | None, limit: int
) -> list[list[TaskRecord]]:
    pages: list[list[TaskRecord]] = []
    after = None
    while page := store.list_tasks(FLOW, run_id, step, limit=limit, after=after):
        assert len(page) <= limit
        pages.append(page)
        after = page[-1].pathspec
    return pages


@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_pages_of_tasks_add_up_to_the_whole_list(store: MetadataBackend, limit: int) -> None:
    run_id = wide_run(store)
    for step in (None, "train"):
        everything = store.list_tasks(FLOW, run_id, step)
        pages = all_pages(store, run_id, step, limit)
        assert [task for page in pages for task in page] == everything


def test_a_page_carries_every_attempt_of_its_tasks(store: MetadataBackend) -> None:
    run_id = wide_run(store)
    after = f"{FLOW}/{run_id}/train/3"

    (retried,) = store.list_tasks(FLOW, run_id, limit=1, after=after)

    assert retried.task_id == "4"
    assert [a.status for a in retried.attempts] == [TaskStatus.FAILED, TaskStatus.RUNNING]


def test_a_limit_without_a_cursor_is_the_first_page(store: MetadataBackend) -> None:
    run_id = wide_run(store)

    first = store.list_tasks(FLOW, run_id, limit=2)

    assert [(t.step_name, t.task_id) for t in first] == [("start", "1"), ("train", "2")]


def test_a_task_cursor_of_another_run_is_refused(store: MetadataBackend) -> None:
    run_id = wide_run(store)
    other = wide_run(store)

    with pytest.raises(ShipyardError, match="not the pathspec of a task of run"):
        store.list_tasks(FLOW, run_id, after=f"{FLOW}/{other}/train/2")
    with pytest.raises(ShipyardError, match="not the pathspec of a task of run"):
        store.list_tasks(FLOW, run_id, after="train/2")


def test_a_task_cursor_naming_no_task_is_not_found(store: MetadataBackend) -> None:
    run_id = wide_run(store)

    with pytest.raises(ObjectNotFound, match="does not exist"):
        store.list_tasks(FLOW, run_id, after=f"{FLOW}/{run_id}/train/12345")


def test_pages_of_runs_add_up_to_the_whole_list(store: MetadataBackend) -> None:
    for n in range(5):
        store.create_run(FLOW if n % 2 else "OtherFlow", "alice")
    everything = store.list_runs()

    first = store.list_runs(limit=2)
    second = store.list_runs(limit=2, after=first[-1].run_id)
    rest = store.list_runs(after=second[-1].run_id)

    assert first + second + rest == everything
    assert store.list_runs(after=everything[-1].run_id) == []
