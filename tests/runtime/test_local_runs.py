"""Flows run for real on the local executor (`python flow.py run`), read back with the client."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest

from shipyard import Flow, Run, Runner
from shipyard.exceptions import CorruptBlobError, ObjectNotFound

from ..conftest import FLOWS, Home

#: The local executor must behave alike whichever way it starts tasks.
pytestmark = pytest.mark.usefixtures("each_start_method")


def latest(flow: str) -> Run:
    run = Flow(flow).latest_run
    assert run is not None
    return run


def test_linear_flow_stores_artifacts_parameters_and_identity(home: Home):
    done = home.run_flow("linear_flow.py", "run", "--count", "4", "--alpha", "0.25", "--tag", "exp")
    assert done.returncode == 0, done.stderr
    run = latest("LinearFlow")
    assert run.successful and run.finished
    assert run.data.k == 1 and run.data.flag is False
    middle = run["middle"].task
    assert middle.data.total == pytest.approx(1.5)
    assert middle.data.alpha == 0.25 and middle.data.count == 4
    assert middle.data.identity == {
        "flow_name": "LinearFlow",
        "step_name": "middle",
        "task_id": middle.id,
        "pathspec": middle.pathspec,
        "retry_count": 0,
        "username": "tester",
        "tags": ["exp"],
        "origin_run_id": None,
    }
    assert run["start"].task.data.seen_run_id == run.id
    assert "exp" in run.tags


def test_task_logs_are_captured_per_stream(home: Home):
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    run = latest("LinearFlow")
    assert "hello from start" in run["start"].task.stdout
    assert "to stderr" in run["middle"].task.stderr
    assert "to stderr" not in run["middle"].task.stdout


def test_parameters_are_read_only_artifacts_of_every_task(home: Home):
    assert home.run_flow("linear_flow.py", "run", "--count", "2", "--verbose").returncode == 0
    run = latest("LinearFlow")
    for step in run:
        for task in step:
            assert task.data.count == 2
    assert run.data.flag is True


def test_missing_required_parameter_is_refused_before_anything_runs(home: Home):
    done = home.run_flow("linear_flow.py", "run")
    assert done.returncode == 2
    assert "missing required parameter '--count'" in done.stderr
    with pytest.raises(ObjectNotFound):
        Flow("LinearFlow")


def test_badly_typed_parameter_is_refused(home: Home):
    done = home.run_flow("linear_flow.py", "run", "--count", "many")
    assert done.returncode == 2
    assert "'many' is not a valid int" in done.stderr


def test_branch_join_reads_inputs_by_name_and_merges(home: Home):
    assert home.run_flow("branch_flow.py", "run").returncode == 0
    data = latest("BranchFlow").data
    assert data.sides == ["left", "right"]
    assert data.from_left == "left"
    assert data.shared == "same everywhere"
    assert data.left_only == 1


def test_nested_foreach_fans_out_and_joins_in_order(home: Home):
    done = home.run_flow("foreach_flow.py", "run", "--max-workers", "2")
    assert done.returncode == 0, done.stderr
    run = latest("ForeachFlow")
    assert run.data.all_labels == ["a0", "b0", "b1", "c0", "c1", "c2"]
    inner = list(run["inner"])
    assert len(inner) == 6
    stacks = sorted(task.data.stack for task in inner)
    assert stacks[-1] == [(2, 3), (2, 3)]


def test_failing_step_fails_the_run_with_the_users_traceback(home: Home):
    done = home.run_flow("failing_flow.py", "run")
    assert done.returncode == 1
    assert "ValueError: the data is bad" in done.stderr
    assert "failing_flow.py" in done.stderr and "explode" in done.stderr
    assert "shipyard/runtime" not in done.stderr
    run = latest("FailingFlow")
    assert not run.successful and run.finished
    failed = [t for t in run["work"] if not t.successful]
    assert len(failed) == 1
    assert "ValueError" in failed[0].exception
    assert "working on 2" in failed[0].stdout
    assert "end" not in run


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("exit", "exited with code 3"),
        ("sysexit", "sys.exit(0)"),
        ("segfault", "SIGSEGV"),
    ],
)
def test_a_crashing_task_fails_only_itself(home: Home, mode: str, message: str):
    done = home.run_flow("failing_flow.py", "run", "--mode", mode, "--max-workers", "3")
    assert done.returncode == 1
    assert message in done.stderr
    run = latest("FailingFlow")
    statuses = sorted(t.successful for t in run["work"])
    assert statuses == [False, True, True]


def test_conflicting_merge_fails_naming_the_artifact(home: Home):
    done = home.run_flow("conflict_flow.py", "run")
    assert done.returncode == 1
    assert "cannot merge artifact(s) value" in done.stderr
    assert "exclude=['value']" in done.stderr


def test_bad_flow_is_refused_with_file_line_and_hint(home: Home):
    done = home.run_flow("bad_flow.py", "run")
    assert done.returncode == 2
    assert re.search(r"bad_flow\.py:9: step 'start': .*'trian'", done.stderr)
    assert "hint:" in done.stderr
    with pytest.raises(ObjectNotFound):
        Flow("BadFlow")


def test_show_prints_the_dag_with_docstrings(home: Home):
    done = home.run_flow("linear_flow.py", "show")
    assert done.returncode == 0
    assert "start" in done.stdout and "→ middle" in done.stdout
    assert "Create the first artifacts." in done.stdout
    assert "--count" in done.stdout


def test_output_is_plain_when_not_a_terminal(home: Home):
    done = home.run_flow("linear_flow.py", "run", "--count", "1")
    assert "\x1b[" not in done.stdout
    assert "start/1 started" in done.stdout
    assert re.search(r"Run LinearFlow/\d+ succeeded", done.stdout)


def test_quiet_prints_only_the_summary(home: Home):
    done = home.run_flow("linear_flow.py", "run", "--count", "1", "--quiet")
    assert "started" not in done.stdout
    assert "succeeded" in done.stdout


def test_two_runs_at_once_on_one_datastore_do_not_mix(home: Home):
    procs = [
        subprocess.Popen(
            [sys.executable, str(FLOWS / "linear_flow.py"), "run", "--count", str(n)],
            env=home.env,
            cwd=home.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (3, 5)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    runs = list(Flow("LinearFlow"))
    assert len(runs) == 2 and runs[0].id != runs[1].id
    assert sorted(len(r["start"].task.data.numbers) for r in runs) == [3, 5]
    for run in runs:
        assert run.successful
        assert run["middle"].task.data.total == sum(range(run.data.count)) * 0.5


def test_corrupted_blob_is_detected_when_read(home: Home):
    assert home.run_flow("linear_flow.py", "run", "--count", "3").returncode == 0
    artifact = latest("LinearFlow")["start"].task["numbers"]
    blob = home.root / "store" / "blobs" / artifact.sha[:2] / artifact.sha[2:]
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    fresh = latest("LinearFlow")["start"].task["numbers"]
    with pytest.raises(CorruptBlobError, match=artifact.sha):
        _ = fresh.data


def test_run_keeps_a_snapshot_of_the_code(home: Home):
    assert home.run_flow("linear_flow.py", "run", "--count", "1").returncode == 0
    code = latest("LinearFlow").code
    assert code is not None
    assert "class LinearFlow(FlowSpec)" in code.flowspec


def test_runner_runs_a_flow_from_python(home: Home):
    run = Runner(FLOWS / "linear_flow.py", cwd=home.root).run(count=3, config={"k": 7})
    assert run.successful
    assert run.data.k == 7
    assert run["middle"].task.data.total == pytest.approx(1.5)


def test_the_run_id_file_holds_the_id_and_the_attribute_file_the_whole_run(home: Home):
    # --run-id-file keeps Metaflow's meaning; Runner reads the JSON attribute file.
    id_file, attribute_file = home.root / "run_id", home.root / "run.json"
    completed = home.run_flow(
        "linear_flow.py",
        "run",
        "--count",
        "1",
        "--run-id-file",
        str(id_file),
        "--runner-attribute-file",
        str(attribute_file),
    )
    assert completed.returncode == 0
    run_id = id_file.read_text()
    assert json.loads(attribute_file.read_text()) == {
        "flow_name": "LinearFlow",
        "run_id": run_id,
        "pathspec": f"LinearFlow/{run_id}",
    }


def test_runner_attaches_decorators_to_every_step_as_with_does(home: Home):
    run = Runner(FLOWS / "flaky_flow.py", cwd=home.root).run(with_=["retry:times=2"], failures=2)
    assert run.successful
    assert run["work"].task.data.value == 2


def test_runner_returns_failed_runs_too(home: Home):
    run = Runner(FLOWS / "failing_flow.py", cwd=home.root).run()
    assert not run.successful


@pytest.mark.service
def test_a_flow_runs_with_its_metadata_in_postgresql(home: Home, postgres_server: str):
    from sqlalchemy import create_engine, make_url, text

    database = f"flows_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = make_url(postgres_server).set(database=database).render_as_string(hide_password=False)
    env = {**home.env, "SHIPYARD_METADATA": url}
    done = subprocess.run(
        [sys.executable, str(FLOWS / "foreach_flow.py"), "run"],
        env=env,
        cwd=home.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    checked = subprocess.run(
        [
            sys.executable,
            "-c",
            "from shipyard import Flow; r = Flow('ForeachFlow').latest_run; "
            "print(r.successful, r.data.all_labels)",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.stdout.strip() == "True ['a0', 'b0', 'b1', 'c0', 'c1', 'c2']", checked.stderr
