"""The model registry: immutable model versions with lineage, flavors, signatures and aliases.

`shipyard.registry.models` is the user-facing module (`from shipyard import models`);
`ModelRegistry` is the same API over explicitly given stores.
"""

from __future__ import annotations

from shipyard.registry.environment import ModelEnvironmentWarning
from shipyard.registry.feature_sets import FeatureSetRef
from shipyard.registry.refs import ModelRef
from shipyard.registry.registry import (
    AliasEvent,
    Lineage,
    LoadedModel,
    ModelRegistry,
    ModelVersion,
    RegisteredModel,
)
from shipyard.registry.signature import ColumnSpec, Signature, SignatureError

__all__ = [
    "AliasEvent",
    "ColumnSpec",
    "FeatureSetRef",
    "Lineage",
    "LoadedModel",
    "ModelEnvironmentWarning",
    "ModelRef",
    "ModelRegistry",
    "ModelVersion",
    "RegisteredModel",
    "Signature",
    "SignatureError",
]
