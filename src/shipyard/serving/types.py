"""What the serving layer needs from a model store: the contract between serving and registry.

Serving never imports the registry's classes to do its work; it asks for the few
attributes below. Any store (the real `ModelRegistry`, an in-memory one in a test) that
resolves a reference to a version and loads a version into a predicting object can be
served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

if TYPE_CHECKING:
    from shipyard.features.fitted import FittedFeatureSet
    from shipyard.features.snapshot import TrainingSnapshot


@runtime_checkable
class ServableSignature(Protocol):
    """The input schema of a model: checked per request so a bad request fails alone."""

    @property
    def column_names(self) -> list[str]:
        """The input columns, in the order the model takes them."""
        ...

    def coerce(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with its columns converted to the declared types; raises on a mismatch."""
        ...

    def to_json(self) -> Any:
        """A JSON-able description, published by `GET /v1/models/{name}`."""
        ...

    def row_schema(self) -> dict[str, Any]:
        """The JSON Schema of one input row, published in `/openapi.json`."""
        ...


class ServableModel(Protocol):
    """A loaded model version, ready to predict."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def flavor(self) -> str: ...

    @property
    def signature(self) -> ServableSignature | None: ...

    def predict(self, frame: pd.DataFrame) -> list[Any]:
        """One JSON-able prediction per row of `frame`, in order."""
        ...


@runtime_checkable
class TrainedOnFeatures(Protocol):
    """A loaded version that may have been trained on a feature set (`LoadedModel`): such a
    version can be scored by entity id, and its served vectors are logged for drift."""

    @property
    def feature_set(self) -> FittedFeatureSet | None:
        """The encoders fitted at training (None: trained without a feature set)."""
        ...

    @property
    def training_snapshot(self) -> TrainingSnapshot | None:
        """The profile of the training inputs (None: registered without one)."""
        ...


def fitted_features(model: object) -> FittedFeatureSet | None:
    """The fitted feature set `model` was trained with, if it says."""
    return model.feature_set if isinstance(model, TrainedOnFeatures) else None


def training_snapshot(model: object) -> TrainingSnapshot | None:
    """The training snapshot of `model`, if it has one."""
    return model.training_snapshot if isinstance(model, TrainedOnFeatures) else None


class ResolvedVersion(Protocol):
    """What a reference points at right now: enough to tell whether it moved."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> int: ...


class ModelSource(Protocol):
    """Resolves references (`ranker@production`, `ranker/3`) and loads versions.

    `ModelRegistry` satisfies this; so can a test double. Both calls block (a database, a
    blob store), so serving runs them in a worker thread.
    """

    def resolve(self, ref: str) -> Any: ...

    def load_version(self, version: Any, device: str | None = None) -> Any:
        """The version loaded onto `device` (None: the CPU); called with a device only when
        the server was given one."""
        ...
