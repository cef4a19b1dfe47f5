"""The namespace belongs to the execution context: concurrent requests never see each other's.

A server answers requests for different users on threads or asyncio tasks, and each request
switches to its user's namespace; a script or notebook sets it once at the top for everything
after it.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from shipyard.client import Flow, get_namespace, in_namespace, namespace

from .conftest import History

USERS = ["alice", "bob", "carol", "dave"]


def test_concurrent_threads_each_see_only_the_namespace_they_chose(history: History) -> None:
    runs = {user: history.successful_run(user=user) for user in USERS}
    barrier = threading.Barrier(len(USERS))

    def request(user: str) -> tuple[str | None, list[str]]:
        namespace(f"user:{user}")
        barrier.wait()  # every thread has now set its own namespace before any reads it back
        listed = [run.id for run in Flow("TrainFlow").runs()]
        barrier.wait()
        return get_namespace(), listed

    with ThreadPoolExecutor(len(USERS)) as pool:
        answers = dict(zip(USERS, pool.map(request, USERS), strict=True))

    assert answers == {user: (f"user:{user}", [runs[user]]) for user in USERS}


def test_concurrent_asyncio_tasks_each_see_only_the_namespace_they_chose(
    history: History,
) -> None:
    async def serve() -> list[str | None]:
        barrier = asyncio.Barrier(len(USERS))

        async def request(user: str) -> str | None:
            namespace(f"user:{user}")
            await barrier.wait()
            return get_namespace()

        return await asyncio.gather(*(request(user) for user in USERS))

    assert asyncio.run(serve()) == [f"user:{user}" for user in USERS]
    assert get_namespace() == "user:alice"  # the tasks' choices stayed in the tasks


def test_a_namespace_chosen_in_a_thread_leaves_the_caller_s_alone(history: History) -> None:
    namespace("team:vision")
    thread = threading.Thread(target=namespace, args=(None,))
    thread.start()
    thread.join()
    assert get_namespace() == "team:vision"


def test_a_new_thread_starts_in_the_default_namespace(history: History) -> None:
    namespace(None)
    seen: list[str | None] = []
    thread = threading.Thread(target=lambda: seen.append(get_namespace()))
    thread.start()
    thread.join()
    assert seen == ["user:alice"]


def test_a_namespace_set_at_the_top_applies_to_everything_after_it(history: History) -> None:
    mine = history.successful_run(user="alice")
    theirs = history.successful_run(user="bob")
    namespace("user:bob")
    assert [run.id for run in Flow("TrainFlow").runs()] == [theirs]
    with in_namespace(None):
        assert [run.id for run in Flow("TrainFlow").runs()] == [theirs, mine]
    assert get_namespace() == "user:bob"
