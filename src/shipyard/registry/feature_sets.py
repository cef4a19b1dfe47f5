"""The feature set a model version was trained with: named, versioned, its fitted state kept.

Scoring must use exactly the encoders (and the state they learnt) that training used, or a
model sees inputs it was never trained on. So `register(..., feature_set=fitted)` stores the
fitted state as a content-addressed blob, like the payload, and records the feature set's
name, version and that blob's hash with the version: the state can be read back, verified,
for as long as the version exists.

The reference lives in the version's `environment` record (key `feature_set`): like the
Python and library releases kept there, it is what scoring the payload needs besides the
payload itself, and it never changes after registration.

A fitted state made by `FeatureSet.fit` also carries the profile of the encoded training
frame (`TrainingSnapshot`); it is stored as a blob of its own beside the state, so that
`shipyard features drift` can compare the vectors served later with what the model was
trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.exceptions import ShipyardError
from shipyard.metadata.registry_records import FEATURE_SET_KEY

if TYPE_CHECKING:
    from shipyard.datastore import BlobStore
    from shipyard.features.fitted import FittedFeatureSet
    from shipyard.features.snapshot import TrainingSnapshot

__all__ = ["FEATURE_SET_KEY", "FeatureSetRef", "load_fitted", "load_snapshot", "store_fitted"]


@dataclass(frozen=True)
class FeatureSetRef:
    """Which feature set a version was trained with: its name, version and fitted state's hash."""

    name: str
    version: str
    #: The blob holding the fitted state's canonical JSON; equal to `FittedFeatureSet.digest`.
    sha256: str
    #: The blob holding the training snapshot's JSON; None when the state had none.
    snapshot: str | None = None

    def to_json(self) -> dict[str, str]:
        recorded = {"name": self.name, "version": self.version, "sha256": self.sha256}
        if self.snapshot is not None:
            recorded["snapshot"] = self.snapshot
        return recorded

    @classmethod
    def from_environment(cls, environment: Mapping[str, Any] | None) -> FeatureSetRef | None:
        """The reference recorded in a version's environment, or None when there is none."""
        data = (environment or {}).get(FEATURE_SET_KEY)
        if not data:
            return None
        return cls(
            name=data["name"],
            version=data["version"],
            sha256=data["sha256"],
            snapshot=data.get("snapshot"),
        )


def store_fitted(blobs: BlobStore, fitted: FittedFeatureSet) -> FeatureSetRef:
    """Store `fitted`'s canonical JSON (and its training snapshot, if it has one) as blobs
    and return the reference to record."""
    # Imported here: the features package is only needed by models trained with one.
    from shipyard.features.fitted import FittedFeatureSet

    if not isinstance(fitted, FittedFeatureSet):
        raise TypeError(
            "feature_set is the FittedFeatureSet the model was trained with "
            f"(`feature_set.fit(frame)`), not {type(fitted).__name__}"
        )
    sha = blobs.put_bytes(fitted.dumps().encode())
    snapshot = (
        None if fitted.snapshot is None else blobs.put_bytes(fitted.snapshot.dumps().encode())
    )
    return FeatureSetRef(fitted.feature_set, fitted.version, sha, snapshot)


def load_fitted(blobs: BlobStore, ref: FeatureSetRef, model_ref: str) -> FittedFeatureSet:
    """The fitted state `ref` names, read from its blob (verified against its hash)."""
    from shipyard.features.fitted import FittedFeatureSet

    fitted = FittedFeatureSet.loads(bytes(blobs.get(ref.sha256)).decode())
    if (fitted.feature_set, fitted.version) != (ref.name, ref.version):
        raise ShipyardError(
            f"{model_ref} records feature set {ref.name} version {ref.version[:12]}, but its "
            f"stored state is {fitted.feature_set} version {fitted.version[:12]}; the "
            "registry's metadata and blobs disagree: restore them from the same backup"
        )
    return fitted


def load_snapshot(blobs: BlobStore, ref: FeatureSetRef, model_ref: str) -> TrainingSnapshot:
    """The training snapshot `ref` names, read from its blob (verified against its hash)."""
    from shipyard.features.snapshot import TrainingSnapshot

    if ref.snapshot is None:
        raise ShipyardError(
            f"{model_ref} was registered without a training snapshot (its fitted feature set "
            "was not the one `FeatureSet.fit` returned, e.g. one read back from JSON); "
            "register the model again with `feature_set=feature_set.fit(frame)`"
        )
    return TrainingSnapshot.loads(bytes(blobs.get(ref.snapshot)).decode())
