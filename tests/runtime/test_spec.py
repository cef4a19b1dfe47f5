"""Task specs and results survive JSON exactly: they cross processes and machines as text."""

from __future__ import annotations

import json

from shipyard.datastore.refs import ArtifactRef
from shipyard.metadata.records import ForeachFrame
from shipyard.runtime.resources import Resources
from shipyard.runtime.spec import InputTask, Outcome, TaskResult, TaskSpec

REF = ArtifactRef(sha256="ab" * 32, type_name="builtins.list", size=42, encoding="pickle")
FRAME = ForeachFrame(step="split", var="items", index=3, num_splits=7)


def through_text(document: dict) -> dict:
    return json.loads(json.dumps(document))


def test_a_task_spec_round_trips_through_json_text():
    spec = TaskSpec(
        flow_name="TrainFlow",
        run_id="12",
        step_name="join",
        task_id="40",
        attempt=2,
        inputs=(
            InputTask("TrainFlow/12/work/7", "work", {"model": REF}, (FRAME,)),
            InputTask("TrainFlow/12/work/8", "work", {}, (FRAME, FRAME)),
        ),
        foreach_stack=(FRAME,),
        datastore_url="s3://bucket/prefix",
        username="ana",
        tags=frozenset({"nightly", "gpu"}),
        origin_run_id="9",
        parameters={"alpha": 0.5, "count": 3, "name": "x", "verbose": True, "cfg": {"k": [1]}},
        parameter_names=frozenset({"alpha", "count", "name", "verbose", "cfg"}),
        kill_after_seconds=65.0,
        resources=Resources(cpu=2.5, memory=512, gpu=1),
        code_hash="cd" * 32,
        with_decorators=("retry:times=2", "catch:var=err"),
        fresh_interpreter=True,
    )
    assert TaskSpec.from_json(through_text(spec.to_json())) == spec


def test_a_spec_with_only_defaults_round_trips():
    spec = TaskSpec("F", "1", "start", "1", 0, (), (), "/tmp/store", "bo", frozenset())
    assert TaskSpec.from_json(through_text(spec.to_json())) == spec


def test_a_task_result_round_trips_through_json_text():
    for result in (
        TaskResult(
            Outcome.SUCCEEDED,
            artifacts={"model": REF, "score": REF},
            foreach_num_splits=5,
            exit_code=0,
            stdout_hash="ef" * 32,
            host="node-3",
        ),
        TaskResult(Outcome.FAILED, error="Traceback ...\nValueError: bad\n", exit_code=-9),
    ):
        assert TaskResult.from_json(through_text(result.to_json())) == result
