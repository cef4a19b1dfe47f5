"""`Run`: identity, status, times, parameters, tags, steps, end data and code snapshot."""

from __future__ import annotations

from datetime import datetime

import pytest

from shipyard.client import Flow, Run, Step, Task
from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.metadata.records import RunStatus

from .conftest import FLOW_SOURCE, History


def test_a_run_knows_its_id_pathspec_and_flow(history: History) -> None:
    run_id = history.successful_run()
    run = Run(f"TrainFlow/{run_id}")
    assert (run.id, run.pathspec, run.flow_name) == (run_id, f"TrainFlow/{run_id}", "TrainFlow")


def test_a_run_repr_shows_its_pathspec(history: History) -> None:
    run_id = history.successful_run()
    assert repr(Run(f"TrainFlow/{run_id}")) == f"Run('TrainFlow/{run_id}')"


def test_runs_with_the_same_pathspec_are_equal(history: History) -> None:
    run_id = history.successful_run()
    assert Run(f"TrainFlow/{run_id}") == Flow("TrainFlow")[run_id]
    assert len({Run(f"TrainFlow/{run_id}"), Run(f"TrainFlow/{run_id}")}) == 1


def test_an_unknown_run_raises_object_not_found(history: History) -> None:
    history.successful_run()
    with pytest.raises(ObjectNotFound):
        Run("TrainFlow/999")


def test_a_successful_run_is_successful_and_finished(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    assert (run.status, run.successful, run.finished) == (RunStatus.SUCCEEDED, True, True)


def test_a_failed_run_is_finished_but_not_successful(history: History) -> None:
    run = Run(f"TrainFlow/{history.failed_run()}")
    assert (run.status, run.successful, run.finished) == (RunStatus.FAILED, False, True)


def test_a_running_run_is_not_finished(history: History) -> None:
    run = Run(f"TrainFlow/{history.run()}")
    assert (run.finished, run.finished_at) == (False, None)


def test_a_finished_run_has_ordered_aware_timestamps(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    assert isinstance(run.created_at, datetime)
    assert run.finished_at is not None
    assert run.record.created_at.tzinfo is not None
    assert run.created_at <= run.finished_at


def test_client_timestamps_are_naive_local_times_as_in_metaflow(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    assert run.created_at.tzinfo is None
    assert run.created_at == run.record.created_at.astimezone().replace(tzinfo=None)
    assert run.created_at <= datetime.now()


def test_a_run_reports_its_user_and_parameters(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    assert (run.user, run.parameters) == ("alice", {"alpha": 0.5})


def test_user_tags_and_system_tags_are_kept_apart(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run(tags=['prod'])}")
    assert run.user_tags == {"prod"}
    assert run.system_tags == {"user:alice", "flow:TrainFlow"}
    assert run.tags == run.user_tags | run.system_tags  # as in Metaflow


def test_add_tag_records_the_tag_and_updates_the_object(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    run.add_tag("best")
    assert "best" in run.tags
    assert "best" in Run(run.pathspec).tags


def test_add_tags_records_several_tags(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    run.add_tags(["a", "b"])
    assert Run(run.pathspec).user_tags == {"a", "b"}


def test_add_tags_refuses_a_lone_string(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    with pytest.raises(TypeError, match="add_tag"):
        run.add_tags("best")


def test_remove_tag_forgets_the_tag(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run(tags=['draft', 'keep'])}")
    run.remove_tag("draft")
    assert Run(run.pathspec).user_tags == {"keep"}
    assert run.user_tags == {"keep"}


def test_remove_tags_forgets_several_tags(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run(tags=['a', 'b', 'c'])}")
    run.remove_tags(["a", "b"])
    assert run.user_tags == {"c"}


def test_system_tags_cannot_be_removed(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    with pytest.raises(ShipyardError, match="system tags"):
        run.remove_tag("user:alice")


def test_a_tagged_run_is_found_by_its_new_tag(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    run.add_tag("champion")
    assert Flow("TrainFlow").runs("champion") == [run]


def test_iterating_a_run_yields_its_steps_in_order(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    assert [step.id for step in run] == ["start", "train", "end"]


def test_steps_lists_step_objects(history: History) -> None:
    run_id = history.successful_run()
    assert Run(f"TrainFlow/{run_id}").steps()[1] == Step(f"TrainFlow/{run_id}/train")


def test_indexing_a_run_by_step_name_gives_the_step(history: History) -> None:
    run_id = history.successful_run()
    assert Run(f"TrainFlow/{run_id}")["train"].pathspec == f"TrainFlow/{run_id}/train"


def test_indexing_a_run_by_an_unknown_step_lists_the_steps(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    with pytest.raises(ObjectNotFound, match="start, train, end"):
        run["evaluate"]


def test_a_run_contains_the_steps_that_ran(history: History) -> None:
    run = Run(f"TrainFlow/{history.failed_run()}")
    assert "train" in run
    assert "end" not in run


def test_end_task_is_the_task_of_the_end_step(history: History) -> None:
    run_id = history.successful_run()
    assert Run(f"TrainFlow/{run_id}").end_task == Task(f"TrainFlow/{run_id}/end/4")


def test_run_data_reads_the_end_tasks_artifacts(history: History) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    assert run.data is not None
    assert run.data.model == {"weights": [1, 2, 3]}


def test_run_data_is_none_when_the_run_never_reached_end(history: History) -> None:
    run = Run(f"TrainFlow/{history.failed_run()}")
    assert (run.end_task, run.data) == (None, None)


def test_code_is_the_snapshot_of_the_flow_source(history: History) -> None:
    code = Run(f"TrainFlow/{history.successful_run()}").code
    assert code is not None
    assert (code.script_name, code.flowspec) == ("train_flow.py", FLOW_SOURCE)


def test_code_is_none_when_no_snapshot_was_stored(history: History) -> None:
    assert Run(f"TrainFlow/{history.failed_run()}").code is None


def test_origin_run_id_names_the_resumed_run(history: History) -> None:
    first = history.failed_run()
    resumed = history.metadata.create_run("TrainFlow", "alice", origin_run_id=first)
    assert Run(f"TrainFlow/{resumed}").origin_run_id == first
