"""Plain, immutable records of experiments, as every `ExperimentStore` takes and returns them;
`shipyard.experiments` builds its allocation and its listings from them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "CellRecord",
    "ExperimentAction",
    "ExperimentDefinition",
    "ExperimentEventRecord",
    "ExperimentRecord",
    "ExperimentState",
]


class ExperimentState(enum.StrEnum):
    """Where an experiment is in its life; it only ever moves forward."""

    #: Defined and editable; nobody is assigned yet.
    DRAFT = "draft"
    #: Serving: its cells point at fixed versions, and nothing of its definition changes.
    RUNNING = "running"
    #: Over: servers answer its requests with the control cell.
    STOPPED = "stopped"


class ExperimentAction(enum.StrEnum):
    """What one entry of an experiment's history did."""

    CREATED = "created"
    UPDATED = "updated"
    STARTED = "started"
    STOPPED = "stopped"


@dataclass(frozen=True)
class CellRecord:
    """One cell: the model reference it was defined with, its share, and the version the
    reference resolved to when the experiment started (None before)."""

    name: str
    model: str
    share: float
    version: int | None = None


@dataclass(frozen=True)
class ExperimentDefinition:
    """What a user defines; everything but `description` is frozen once the experiment runs."""

    name: str
    unit: str
    salt: str
    cells: tuple[CellRecord, ...]
    control: str
    holdout: float = 0.0
    layer: str | None = None
    #: The share of its layer (or of all units, outside any layer) the experiment takes.
    traffic: float = 1.0
    description: str = ""


@dataclass(frozen=True)
class ExperimentRecord:
    """One stored experiment: its definition, its state and the times it changed."""

    definition: ExperimentDefinition
    state: ExperimentState
    #: Where its slice of the layer starts (chosen when it starts; None before).
    offset: float | None
    created_at: datetime
    created_by: str
    started_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.definition.name


@dataclass(frozen=True)
class ExperimentEventRecord:
    """One change of an experiment: what, who, when, and its details (the definition it
    was created or updated with, the versions it started with)."""

    experiment: str
    action: ExperimentAction
    user: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)
