"""Namespaces: listing filters by the namespace tag, direct access outside it is refused."""

from __future__ import annotations

import pytest

from shipyard.client import (
    Flow,
    Run,
    Step,
    Task,
    default_namespace,
    get_namespace,
    in_namespace,
    namespace,
)
from shipyard.config import Config
from shipyard.exceptions import NamespaceMismatch

from .conftest import History


def test_the_default_namespace_is_the_current_user(history: History) -> None:
    assert get_namespace() == "user:alice"


def test_the_default_namespace_follows_the_configured_user(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_USER", "carol")
    Config.reload()
    assert get_namespace() == "user:carol"


def test_namespace_switches_and_returns_the_new_namespace(history: History) -> None:
    assert namespace("user:bob") == "user:bob"
    assert get_namespace() == "user:bob"


def test_default_namespace_resets_and_returns_it(history: History) -> None:
    namespace(None)
    assert default_namespace() == "user:alice"
    assert get_namespace() == "user:alice"


def test_an_empty_namespace_is_refused(history: History) -> None:
    with pytest.raises(ValueError, match="namespace"):
        namespace("")


def test_listing_runs_shows_only_the_current_namespace(history: History) -> None:
    mine = history.successful_run(user="alice")
    history.successful_run(user="bob")
    assert [run.id for run in Flow("TrainFlow").runs()] == [mine]


def test_the_global_namespace_lists_every_run(history: History) -> None:
    first = history.successful_run(user="alice")
    second = history.successful_run(user="bob")
    namespace(None)
    assert [run.id for run in Flow("TrainFlow")] == [second, first]


def test_another_users_namespace_lists_their_runs(history: History) -> None:
    history.successful_run(user="alice")
    theirs = history.successful_run(user="bob")
    namespace("user:bob")
    assert [run.id for run in Flow("TrainFlow")] == [theirs]


def test_a_user_tag_can_serve_as_namespace(history: History) -> None:
    history.successful_run(user="alice")
    shared = history.successful_run(user="bob", tags=["team:vision"])
    namespace("team:vision")
    assert [run.id for run in Flow("TrainFlow")] == [shared]


def test_a_run_outside_the_namespace_raises_namespace_mismatch(history: History) -> None:
    theirs = history.successful_run(user="bob")
    with pytest.raises(NamespaceMismatch, match=r"namespace\(None\)"):
        Run(f"TrainFlow/{theirs}")


def test_a_step_outside_the_namespace_raises_namespace_mismatch(history: History) -> None:
    theirs = history.successful_run(user="bob")
    with pytest.raises(NamespaceMismatch):
        Step(f"TrainFlow/{theirs}/train")


def test_a_task_outside_the_namespace_raises_namespace_mismatch(history: History) -> None:
    theirs = history.successful_run(user="bob")
    with pytest.raises(NamespaceMismatch):
        Task(f"TrainFlow/{theirs}/end/4")


def test_indexing_a_flow_outside_the_namespace_raises_namespace_mismatch(history: History) -> None:
    theirs = history.successful_run(user="bob")
    with pytest.raises(NamespaceMismatch, match="bob"):
        Flow("TrainFlow")[theirs]


def test_the_global_namespace_reaches_any_run(history: History) -> None:
    theirs = history.successful_run(user="bob")
    namespace(None)
    assert Run(f"TrainFlow/{theirs}").user == "bob"


def test_in_namespace_restores_the_previous_choice(history: History) -> None:
    theirs = history.successful_run(user="bob")
    with in_namespace(None):
        assert Run(f"TrainFlow/{theirs}").user == "bob"
    assert get_namespace() == "user:alice"
