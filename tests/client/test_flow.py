"""`Flow`: runs newest first, by tag, latest and latest successful run."""

from __future__ import annotations

import pytest

from shipyard.client import Flow, Run, flows, namespace, runs
from shipyard.exceptions import ObjectNotFound

from .conftest import History


def test_an_unknown_flow_raises_object_not_found(history: History) -> None:
    history.successful_run("TrainFlow")
    with pytest.raises(ObjectNotFound, match="TrainFlow"):
        Flow("NoSuchFlow")


def test_a_flow_has_its_name_as_pathspec(history: History) -> None:
    history.successful_run()
    flow = Flow("TrainFlow")
    assert (flow.name, flow.pathspec, repr(flow)) == ("TrainFlow", "TrainFlow", "Flow('TrainFlow')")


def test_iterating_a_flow_yields_runs_newest_first(history: History) -> None:
    ids = [history.successful_run() for _ in range(3)]
    assert [run.id for run in Flow("TrainFlow")] == list(reversed(ids))


def test_runs_of_other_flows_are_not_listed(history: History) -> None:
    mine = history.successful_run("TrainFlow")
    history.successful_run("OtherFlow")
    assert [run.id for run in Flow("TrainFlow").runs()] == [mine]


def test_runs_filters_by_positional_tags_all_of_which_must_match(history: History) -> None:
    both = history.successful_run(tags=["prod", "v2"])
    history.successful_run(tags=["prod"])
    assert [run.id for run in Flow("TrainFlow").runs("prod", "v2")] == [both]


def test_runs_filters_by_the_tag_keyword(history: History) -> None:
    tagged = history.successful_run(tags=["prod"])
    history.successful_run()
    assert [run.id for run in Flow("TrainFlow").runs(tag="prod")] == [tagged]


def test_runs_accepts_a_list_for_the_tag_keyword(history: History) -> None:
    tagged = history.successful_run(tags=["prod", "v2"])
    history.successful_run(tags=["prod"])
    assert [run.id for run in Flow("TrainFlow").runs(tag=["prod", "v2"])] == [tagged]


def test_latest_run_is_the_newest_whatever_its_status(history: History) -> None:
    history.successful_run()
    failed = history.failed_run()
    assert Flow("TrainFlow").latest_run == Run(f"TrainFlow/{failed}")


def test_latest_successful_run_skips_failed_runs(history: History) -> None:
    good = history.successful_run()
    history.failed_run()
    latest = Flow("TrainFlow").latest_successful_run
    assert latest is not None
    assert latest.id == good


def test_latest_successful_run_is_none_without_a_successful_run(history: History) -> None:
    history.failed_run()
    assert Flow("TrainFlow").latest_successful_run is None


def test_latest_run_is_none_when_the_namespace_has_no_run(history: History) -> None:
    history.successful_run(user="bob")
    assert Flow("TrainFlow").latest_run is None


def test_indexing_a_flow_by_run_id_gives_the_run(history: History) -> None:
    run_id = history.successful_run()
    assert Flow("TrainFlow")[run_id].pathspec == f"TrainFlow/{run_id}"


def test_indexing_a_flow_with_a_run_of_another_flow_raises_object_not_found(
    history: History,
) -> None:
    history.successful_run("TrainFlow")
    other = history.successful_run("OtherFlow")
    with pytest.raises(ObjectNotFound, match="OtherFlow"):
        Flow("TrainFlow")[other]


def test_flows_lists_flows_with_runs_in_the_namespace(history: History) -> None:
    history.successful_run("TrainFlow")
    history.successful_run("BobsFlow", user="bob")
    assert [flow.name for flow in flows()] == ["TrainFlow"]


def test_flows_lists_every_flow_in_the_global_namespace(history: History) -> None:
    history.successful_run("TrainFlow")
    history.successful_run("BobsFlow", user="bob")
    namespace(None)
    assert [flow.name for flow in flows()] == ["BobsFlow", "TrainFlow"]


def test_runs_keeps_only_the_newest_up_to_limit(history: History) -> None:
    ids = [history.successful_run() for _ in range(3)]
    assert [run.id for run in Flow("TrainFlow").runs(limit=2)] == [ids[2], ids[1]]


def test_module_runs_lists_runs_of_all_flows_in_the_namespace(history: History) -> None:
    first = history.successful_run("TrainFlow")
    second = history.successful_run("OtherFlow")
    history.successful_run("OtherFlow", user="bob")
    assert [run.pathspec for run in runs()] == [f"OtherFlow/{second}", f"TrainFlow/{first}"]


def test_module_runs_of_an_unknown_flow_raises_object_not_found(history: History) -> None:
    history.successful_run()
    with pytest.raises(ObjectNotFound, match="NoSuchFlow"):
        runs("NoSuchFlow")
