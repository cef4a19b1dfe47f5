"""Every example that the docs point at runs as documented."""

from __future__ import annotations

import subprocess
from pathlib import Path

from shipyard import Flow, models

from ..conftest import Home

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_script(
    home: Home, script: str | Path, *args: str, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    done = home.run_flow(EXAMPLES / script, *args, timeout=300)
    assert done.returncode == expect, done.stdout + done.stderr
    return done


def test_demo_flow_trains_sweeps_and_keeps_the_best_model(home: Home):
    run_script(home, "train_flow.py", "run")
    run = Flow("TrainFlow").latest_run
    assert run.successful
    scores = [task.data.valid_score for task in run["train"]]
    assert len(scores) == 6
    assert run.data.valid_score == max(scores)
    assert 0.85 < run.data.test_score <= 1.0
    assert run.data.model.predict(run["start"].task.data.test_x[:3]).shape == (3,)
    production = models.get("breast-cancer@production")
    assert production.version == run.data.registered_version
    assert production.lineage is not None and production.lineage.run_id == run.id


def test_demo_ends_by_scoring_rows_through_a_live_server(home: Home):
    run_script(home, "train_flow.py", "run", "--candidates", '[{"kind": "logistic", "C": 1.0}]')
    done = run_script(home, "score_demo.py")
    assert "by breast-cancer version 1" in done.stdout
    assert done.stdout.count("predicted ") == 3


def test_inspect_results_reads_the_demo_run(home: Home):
    run_script(home, "train_flow.py", "run", "--candidates", '[{"kind": "logistic", "C": 1.0}]')
    done = run_script(home, "inspect_results.py")
    assert "latest successful run: TrainFlow/" in done.stdout
    assert "runs tagged 'inspected'" in done.stdout
    assert "rows" in done.stdout  # what the start step printed


def test_next_steps_prints_commands_for_the_latest_run(home: Home):
    run_script(
        home, "train_flow.py", "run", "--candidates", '[{"kind": "forest", "n_estimators": 5}]'
    )
    run = Flow("TrainFlow").latest_run
    done = run_script(home, "next_steps.py")
    assert f"shipyard show {run.pathspec}" in done.stdout


def test_branch_example_picks_the_raw_features(home: Home):
    run_script(home, "branch_flow.py", "run")
    data = Flow("BranchFlow").latest_run.data
    assert data.best == "raw"
    assert data.errors["raw"] < data.errors["squared"]
    assert data.x.shape == (1000, 3)


def test_artifacts_example_stores_big_artifacts_once(home: Home):
    run_script(home, "artifacts_flow.py", "run")
    run = Flow("ArtifactsFlow").latest_run
    start, untouched, end = (run[name].task for name in ("start", "untouched", "end"))
    assert start["matrix"].sha == untouched["matrix"].sha == end["matrix"].sha
    assert run.data.trace == sum(i * 1000 + i for i in range(1000))
    assert run.data.top == [999, 998, 997]
    blobs = list((home.root / "store" / "blobs").glob("*/*"))
    big = [b for b in blobs if b.stat().st_size >= 8_000_000]
    assert len(big) == 1


def test_resilient_example_retries_catches_and_resumes(home: Home):
    run_script(home, "resilient_flow.py", "run")
    run = Flow("ResilientFlow").latest_run
    assert run.successful
    assert len(run.data.rows) == 4000 and run.data.format == "short"
    retried = [t for t in run["fetch"] if len(t.attempts) == 2]
    assert len(retried) == 2  # the odd shards failed once
    assert run["enrich"].task.data.enrich_error.exception_type.endswith("StepTimeout")

    # As the example's docstring says: break the code, run, fix the code, resume.
    flow_file = home.root / "resilient_flow.py"
    source = (EXAMPLES / "resilient_flow.py").read_text()
    assert source.count("\nBROKEN = False\n") == 1
    flow_file.write_text(source.replace("\nBROKEN = False\n", "\nBROKEN = True\n"))
    broken = run_script(home, flow_file, "run", expect=1)  # an absolute path replaces EXAMPLES
    assert "report is broken: set BROKEN = False, then resume the run" in broken.stderr
    failed = Flow("ResilientFlow").latest_run
    assert not failed.successful and failed["report"].task.status.value == "failed"

    flow_file.write_text(source)  # the fix
    run_script(home, flow_file, "resume")
    resumed = Flow("ResilientFlow").latest_run
    assert resumed.successful and resumed.origin_run_id == failed.id
    assert all(t.origin_pathspec for t in resumed["fetch"])
    assert resumed["report"].task.origin_pathspec is None
    assert resumed.data.mean == run.data.mean


def test_custom_decorators_example_retries_with_more_memory_and_tags_the_run(home: Home):
    done = run_script(home, "custom_decorators.py", "run", "--with", "retry")
    assert "CustomDecoratorsFlow/1/flaky/2 attempt 0: retrying" in done.stdout
    run = Flow("CustomDecoratorsFlow").latest_run
    assert "team-search" in run.tags
    assert run.data.attempt == 1
    assert run["flaky"].task.resources == {"cpu": 1, "memory": 256, "gpu": 0}


def test_facts_demo_restates_a_fact_and_reads_as_of_before_the_fix(home: Home):
    done = run_script(home, "facts_demo.py")
    assert "ingested 350 facts" in done.stdout
    assert "member 7 on Jan 3: 42.0 s now" in done.stdout
    assert "compacted 3 batches into batch 4" in done.stdout
    assert "plays now holds 401 facts; the as-of read unchanged: True" in done.stdout


def test_features_flow_registers_a_model_with_its_fitted_feature_set(home: Home):
    from shipyard import features

    run_script(home, "features_flow.py", "run")
    run = Flow("FeaturesFlow").latest_run
    assert run.successful
    frame = run.data.train_frame
    lineage = features.lineage_of(frame)
    assert (lineage.feature_set, lineage.tables) == ("churn_features", ("members", "plays"))
    assert len(frame) == 400 and frame["plays_14d"].notna().all()

    version = models.get("member-churn")
    assert version.version == run.data.registered_version
    assert version.lineage is not None and version.lineage.run_id == run.id
    assert version.feature_set is not None
    assert (version.feature_set.name, version.feature_set.version) == (
        "churn_features",
        lineage.version,
    )
    fitted = models.feature_set_of("member-churn")
    assert fitted is not None and fitted.digest == run["train"].task.data.feature_set_digest
    columns = [c for c in frame.columns if c not in ("member_id", "ts", "churned")]
    predicted = models.load("member-churn").predict(fitted.transform(frame[columns]))
    assert len(predicted) == 400 and set(predicted) <= {0, 1}
    assert version.metrics["accuracy"] > 0.7
    assert run["online"].task.data.online_mismatches == 0
    assert "materialized 200 members as of" in run["online"].task.stdout
    # The end of the features demo: members scored by id through a live server, then
    # parity (no mismatch) and the drift of the served vectors.
    scoring = run_script(home, "entity_scoring.py")
    assert "scored 200 members by id through http://127.0.0.1:" in scoring.stdout
    assert "200 vectors checked, 0 mismatches" in scoring.stdout
    assert "drift of member-churn/1: 200 served vectors" in scoring.stdout


def test_experiment_demo_recovers_the_true_effect_through_a_live_server(home: Home):
    done = run_script(home, "experiment_demo.py", "--members", "300")
    assert "sent 300 requests through http://127.0.0.1:" in done.stdout
    assert "true effect +3.0 watch minutes: recovered" in done.stdout
    assert "SAMPLE RATIO MISMATCH" not in done.stdout + done.stderr
