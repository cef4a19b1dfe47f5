"""A Metaflow feature Shipyard does not have is refused before anything runs: the message
names the feature, where the flow uses it, and what to do instead; never an ImportError."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import S3, Deployer
from shipyard.flow.unavailable import MISSING_FEATURES, FeatureNotAvailable

from ..conftest import Home
from .porting import SOURCES, ported


def test_step_features_are_refused_by_the_lint_at_their_lines(home: Home) -> None:
    flow = ported(SOURCES / "mf_unavailable_steps.py", home.root)
    done = home.run_flow(flow, "run")
    assert done.returncode == 2, done.stderr
    assert f"{flow}:7: step 'start': @conda is a Metaflow feature" in done.stderr
    assert "(planned with per-step environments)" in done.stderr
    assert "install the packages into the environment that runs the flow" in done.stderr
    assert f"{flow}:14: step 'end': S3 is a Metaflow feature" in done.stderr
    assert "SHIPYARD_DATASTORE at s3://" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (home.root / "store" / "metadata.db").exists()  # nothing ran, nothing recorded


def test_flow_decorators_are_refused_by_the_lint_at_the_class_line(home: Home) -> None:
    flow = ported(SOURCES / "mf_unavailable_flow.py", home.root)
    done = home.run_flow(flow, "run")
    assert done.returncode == 2, done.stderr
    for name, planned in (("project", "production deployments"), ("conda_base", "per-step")):
        assert f"{flow}:6: @{name} is a Metaflow feature" in done.stderr
        assert f"(planned with {planned}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (home.root / "store" / "metadata.db").exists()


@pytest.mark.parametrize("kind", [S3, Deployer])
def test_classes_raise_a_typed_error_naming_what_to_use(kind: type) -> None:
    with pytest.raises(FeatureNotAvailable, match=f"{kind.__name__} is a Metaflow feature"):
        kind()


def test_every_missing_feature_says_what_to_do_instead() -> None:
    assert all(feature.instead for feature in MISSING_FEATURES.values())


def test_the_metaflow_page_marks_every_missing_feature_not_yet() -> None:
    page = (Path(__file__).parents[2] / "docs" / "metaflow.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| ")]
    for feature in MISSING_FEATURES.values():
        row = next((r for r in rows if f"`{feature.written}" in r.split(" | ")[0]), None)
        assert row is not None and "| not yet" in row, feature.written
