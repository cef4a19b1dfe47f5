"""`shipyard models ...` against real stores: register from a run, list, show, alias, roll back."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shipyard import Flow, Run
from shipyard.cli.main import cli
from shipyard.registry import models

from ..conftest import Home
from ..registry.conftest import FLOWS


def shipyard(*args: str) -> Result:
    return CliRunner().invoke(cli, ["models", *args], env={"COLUMNS": "200"})


@pytest.fixture
def run(home: Home) -> Run:
    done = home.run_flow(FLOWS / "register_flow.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    latest = Flow("RegisterFlow").latest_run
    assert latest is not None
    return latest


def test_register_from_a_run_records_the_artifact(run: Run) -> None:
    task = run["start"].task

    result = shipyard(
        "register", "archived", "--from", f"{task.pathspec}:model", "-m", "auc=0.9",
        "-d", "from the CLI", "-t", "team=ml",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "registered archived/1 (sklearn)" in result.stdout
    version = models.get("archived")
    assert version.lineage is not None
    assert (version.lineage.artifact_name, version.lineage.artifact_sha256) == (
        "model",
        task["model"].sha,
    )
    assert (version.metrics, version.description, version.tags) == (
        {"auc": 0.9},
        "from the CLI",
        {"team": "ml"},
    )


def test_register_infers_the_signature_from_an_input_example(run: Run, tmp_path: Path) -> None:
    task = run["start"].task
    frame = task["frame"].data
    csv = tmp_path / "rows.csv"
    frame.to_csv(csv, index=False)

    from_file = shipyard(
        "register", "a", "--from", f"{task.pathspec}:model", "--input-example", str(csv)
    )
    from_artifact = shipyard(
        "register", "b", "--from", f"{task.pathspec}:model",
        "--input-example", f"{task.pathspec}:frame",
    )  # fmt: skip

    assert from_file.exit_code == 0, from_file.output
    assert from_artifact.exit_code == 0, from_artifact.output
    for name in ("a", "b"):
        signature = models.get(name).signature
        assert signature is not None
        assert [(spec.name, spec.dtype) for spec in signature.inputs] == [
            ("x1", "float"),
            ("x2", "integer"),
        ]


def test_register_refuses_an_input_example_that_is_not_a_frame(run: Run) -> None:
    task = run["start"].task
    result = shipyard(
        "register", "x", "--from", f"{task.pathspec}:model",
        "--input-example", f"{task.pathspec}:registered",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "holds a str, not a data frame" in result.stderr


def test_register_refuses_a_metric_that_is_not_a_number(run: Run) -> None:
    task = run["start"].task
    result = shipyard("register", "x", "--from", f"{task.pathspec}:model", "-m", "auc=high")
    assert result.exit_code == 1
    assert "--metric auc=high: the value must be a number" in result.stderr


def test_list_versions_and_show(run: Run) -> None:
    models.set_alias("ranker", "production", 1)

    listed = shipyard("list")
    assert listed.exit_code == 0
    assert "ranker" in listed.stdout and "production=1" in listed.stdout

    versions = shipyard("versions", "ranker")
    assert versions.exit_code == 0
    row = next(line for line in versions.stdout.splitlines() if line.strip().startswith("1 "))
    assert "sklearn" in row and "production" in row and run["start"].task.pathspec in row

    shown = shipyard("show", "ranker@production")
    assert shown.exit_code == 0, shown.output
    for expected in ("ranker/1", "sklearn", "x1: float, x2: integer", "accuracy=1.0", "C=1.0"):
        assert expected in shown.stdout
    import platform

    import sklearn

    assert f"Python {platform.python_version()}, sklearn {sklearn.__version__}" in shown.stdout


def test_alias_history_and_rollback(run: Run) -> None:
    models.register_from_artifact("ranker", f"{run['start'].task.pathspec}:model")

    assert shipyard("alias", "ranker", "production", "1").exit_code == 0
    moved = shipyard("alias", "ranker", "production", "2")
    assert "ranker@production moved from 1 to version 2" in moved.stdout

    rolled = shipyard("rollback", "ranker", "production")
    assert rolled.exit_code == 0
    assert "rolled back to version 1" in rolled.stdout
    assert models.get("ranker@production").version == 1

    history = shipyard("history", "ranker", "production")
    rows = [line.split()[-3:] for line in history.stdout.splitlines() if "tester" in line]
    assert rows == [["tester", "-", "1"], ["tester", "1", "2"], ["tester", "2", "1"]]


def test_unalias_removes_the_alias(run: Run) -> None:
    models.set_alias("ranker", "production", 1)

    assert shipyard("unalias", "ranker", "production").exit_code == 0

    history = shipyard("history", "ranker", "production")
    assert "(deleted)" in history.stdout


def test_unalias_of_an_alias_never_set_says_so(run: Run) -> None:
    result = shipyard("unalias", "ranker", "staging")

    assert result.exit_code == 0, result.output
    assert "ranker@staging is not set: nothing to remove" in result.stdout
    assert models.alias_history("ranker", "staging") == []


def test_alias_to_the_version_it_already_points_at_changes_nothing(run: Run) -> None:
    models.set_alias("ranker", "production", 1)

    result = shipyard("alias", "ranker", "production", "1")

    assert result.exit_code == 0, result.output
    assert "ranker@production already points at version 1" in result.stdout
    assert len(models.alias_history("ranker", "production")) == 1


def test_describe_and_tag_models_and_versions(run: Run) -> None:
    assert shipyard("describe", "ranker", "ranks things").exit_code == 0
    assert shipyard("describe", "ranker/1", "the first").exit_code == 0
    assert shipyard("tag", "ranker/1", "stage=review", "owner=ml").exit_code == 0
    assert shipyard("tag", "ranker/1", "--remove", "stage").exit_code == 0
    assert shipyard("tag", "ranker", "team=search").exit_code == 0

    version = models.get("ranker/1")
    assert (version.description, version.tags) == ("the first", {"owner": "ml"})
    model = models.list_models()[0]
    assert (model.description, model.tags) == ("ranks things", {"team": "search"})


def test_errors_are_one_line_and_exit_1(run: Run) -> None:
    for args, message in [
        (("show", "ranker/9"), "model 'ranker' has no version 9; its versions are 1"),
        (("show", "nope"), "model 'nope' is not registered; registered models: ranker"),
        (("show", "ranker/x"), "must be a version number"),
        (("rollback", "ranker", "production"), "has no alias 'production'"),
        (("history", "ranker", "staging"), "has no alias 'staging' and never had"),
        (("tag", "ranker", "novalue"), "expected KEY=VALUE"),
    ]:
        result = shipyard(*args)
        assert result.exit_code == 1, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output


def test_list_says_when_nothing_is_registered(home: Home) -> None:
    result = shipyard("list")
    assert result.exit_code == 0
    assert "no model is registered yet" in result.stdout


def test_gc_keeps_the_payload_of_every_registered_version(home: Home) -> None:
    from ..registry.custom_models import ThresholdModel

    models.register("rule", ThresholdModel(0.5))

    result = CliRunner().invoke(cli, ["gc", "--delete", "--min-age", "0"])

    assert result.exit_code == 0, result.output
    assert models.load("rule").model.threshold == 0.5


def test_show_names_the_feature_set_a_version_was_trained_with(home: Home) -> None:
    from sklearn.linear_model import LogisticRegression

    from ..registry.test_feature_sets import LABELS, RANKER, TRAIN

    fitted = RANKER.fit(TRAIN)
    models.register(
        "ranker", LogisticRegression().fit(fitted.transform(TRAIN), LABELS), feature_set=fitted
    )
    models.register("plain", LogisticRegression().fit(TRAIN[["plays"]], LABELS))

    shown = shipyard("show", "ranker/1")
    assert shown.exit_code == 0, shown.output
    assert (
        f"ranker_features version {RANKER.version[:12]} (fitted state {fitted.digest[:12]})"
        in shown.stdout
    )
    assert "feature set" not in shipyard("show", "plain/1").stdout


def test_gc_keeps_the_fitted_feature_set_of_every_registered_version(home: Home) -> None:
    from sklearn.linear_model import LogisticRegression

    from ..registry.test_feature_sets import LABELS, RANKER, TRAIN

    fitted = RANKER.fit(TRAIN)
    models.register(
        "ranker", LogisticRegression().fit(fitted.transform(TRAIN), LABELS), feature_set=fitted
    )

    result = CliRunner().invoke(cli, ["gc", "--delete", "--min-age", "0"])

    assert result.exit_code == 0, result.output
    kept = models.feature_set_of("ranker")
    assert kept is not None and kept.digest == fitted.digest


def test_a_past_runs_artifact_is_registered_with_the_feature_set_given(run: Run) -> None:
    from ..registry.test_feature_sets import RANKER, TRAIN

    fitted = RANKER.fit(TRAIN)
    task = run["start"].task

    version = models.register_from_artifact(
        "archived", f"{task.pathspec}:model", feature_set=fitted
    )

    assert version.feature_set is not None and version.feature_set.sha256 == fitted.digest
    assert version.lineage is not None and version.lineage.artifact_name == "model"
