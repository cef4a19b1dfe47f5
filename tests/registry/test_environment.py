"""Each version records the releases that saved it; loading under others warns, naming them."""

from __future__ import annotations

import platform
import warnings
from pathlib import Path

import pandas as pd
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sqlalchemy import update

from shipyard.metadata.models import ModelVersion as ModelVersionRow
from shipyard.metadata.sql.backend import SQLMetadataBackend
from shipyard.registry import ModelRegistry
from shipyard.registry.environment import ModelEnvironmentWarning

from .custom_models import ThresholdModel


def fitted(frame: pd.DataFrame, labels: list[int]) -> LogisticRegression:
    return LogisticRegression().fit(frame, labels)


def rewrite_environment(tmp_path: Path, name: str, environment: dict) -> None:
    """What a version registered elsewhere looks like: other releases in its row."""
    metadata = SQLMetadataBackend(f"sqlite:///{tmp_path / 'store' / 'metadata.db'}")
    with metadata.database.write() as conn:
        conn.execute(
            update(ModelVersionRow)
            .where(ModelVersionRow.model_name == name)
            .values(environment=environment)
        )
    metadata.close()


def test_a_version_records_python_and_the_flavor_library(
    registry: ModelRegistry, frame: pd.DataFrame, labels: list[int]
) -> None:
    version = registry.register("clf", fitted(frame, labels))
    assert version.environment == {
        "python": platform.python_version(),
        "libraries": {"sklearn": sklearn.__version__},
    }
    assert registry.resolve("clf/1").environment == version.environment


def test_a_plain_python_model_records_python_only(registry: ModelRegistry) -> None:
    version = registry.register("rule", ThresholdModel(0.5))
    assert version.environment == {"python": platform.python_version(), "libraries": {}}


def test_loading_where_the_releases_match_is_silent(
    registry: ModelRegistry, frame: pd.DataFrame, labels: list[int]
) -> None:
    registry.register("clf", fitted(frame, labels))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelEnvironmentWarning)
        registry.load("clf/1")


def test_loading_under_another_library_release_warns_naming_both(
    registry: ModelRegistry, frame: pd.DataFrame, labels: list[int], tmp_path: Path
) -> None:
    registry.register("clf", fitted(frame, labels))
    rewrite_environment(tmp_path, "clf", {"python": "2.7.18", "libraries": {"sklearn": "0.24.2"}})
    with pytest.warns(ModelEnvironmentWarning) as caught:
        model = registry.load("clf/1")
    message = str(caught[0].message)
    assert f"Python 2.7.18 (here {platform.python_version()})" in message
    assert f"sklearn 0.24.2 (here {sklearn.__version__})" in message
    assert len(model.predict(frame)) == 8  # a warning, not a refusal


def test_a_patch_release_difference_is_not_worth_a_warning(
    registry: ModelRegistry, frame: pd.DataFrame, labels: list[int], tmp_path: Path
) -> None:
    registry.register("clf", fitted(frame, labels))
    major, minor, *_ = sklearn.__version__.split(".")
    rewrite_environment(
        tmp_path,
        "clf",
        {"python": platform.python_version(), "libraries": {"sklearn": f"{major}.{minor}.99"}},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelEnvironmentWarning)
        registry.load("clf/1")
