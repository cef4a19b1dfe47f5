"""`from shipyard import experiments`: define, run and read experiments in a few words.

    experiments.create("ranker-v4", cells={"control": "ranker@production",
                                           "treatment": "ranker/7"},
                       allocation={"control": 0.5, "treatment": 0.5}, unit="member_id")
    experiments.start("ranker-v4")
    experiments.assign("ranker-v4", member_id)      # "control", "treatment" or None
    experiments.stop("ranker-v4")

Every function works on the stores of the configuration in force (`SHIPYARD_DATASTORE`,
`SHIPYARD_METADATA`), like `models` and `facts`, and records changes as `Config.user`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipyard.experiments.allocation import Allocation
from shipyard.experiments.lifecycle import Experiments, allocation_of
from shipyard.metadata.experiment_records import (
    ExperimentEventRecord,
    ExperimentRecord,
    ExperimentState,
)

if TYPE_CHECKING:
    from shipyard.experiments.analysis import Analysis, Metric

__all__ = [
    "allocation",
    "analyze",
    "assign",
    "create",
    "get",
    "history",
    "list_experiments",
    "manager",
    "start",
    "stop",
    "update",
]


def manager(*, create: bool = False) -> Experiments:
    """The experiments of the current configuration, over the client's shared stores; a
    reader never creates a store, a writer (`create=True`) may."""
    from shipyard.client.context import current_context
    from shipyard.config import Config
    from shipyard.registry.models import registry

    context = current_context()
    metadata = context.metadata_for_writing() if create else context.metadata
    return Experiments(metadata.experiments, registry(), user=Config.current().user)


def create(
    name: str,
    cells: Mapping[str, str],
    allocation: Mapping[str, float] | None = None,
    **options: Any,
) -> ExperimentRecord:
    """Define a draft experiment (see `Experiments.create` for the options)."""
    return manager(create=True).create(name, cells, allocation, **options)


def update(name: str, **changes: Any) -> ExperimentRecord:
    """Change a draft experiment (see `Experiments.update`)."""
    return manager(create=True).update(name, **changes)


def start(name: str) -> ExperimentRecord:
    """Start a draft: its cells' versions are resolved and recorded now."""
    return manager(create=True).start(name)


def stop(name: str) -> ExperimentRecord:
    """Stop a running experiment; servers serve its control cell from then on."""
    return manager(create=True).stop(name)


def get(name: str) -> ExperimentRecord:
    """One experiment."""
    return manager().get(name)


def list_experiments(state: ExperimentState | str | None = None) -> list[ExperimentRecord]:
    """Every experiment (in `state`, when given), alphabetically."""
    return manager().list_experiments(state)


def history(name: str) -> list[ExperimentEventRecord]:
    """Every change of an experiment: what, who, when."""
    return manager().history(name)


# A started experiment's allocation never changes (a change is a new experiment), so once
# read it is kept for the life of the process: `assign` then costs a hash, no I/O. Drafts
# may still change and are read again each time.
_allocations: dict[tuple[int, str, str, str], Allocation] = {}
_allocations_lock = threading.Lock()


def allocation(name: str) -> Allocation:
    """The compiled allocation of experiment `name`, read once per process once started."""
    from shipyard.config import Config

    config = Config.current()
    key = (os.getpid(), config.datastore, config.metadata, name)
    found = _allocations.get(key)
    if found is not None:
        return found
    record = manager().get(name)
    compiled = allocation_of(record)
    if record.state is not ExperimentState.DRAFT:
        with _allocations_lock:
            _allocations[key] = compiled
    return compiled


def assign(name: str, unit: object) -> str | None:
    """The cell of `unit` in experiment `name`, or None when the holdout or its layer keeps
    the unit out. No I/O once the experiment's definition has been read."""
    return allocation(name).assign(unit)


def analyze(
    name: str,
    metrics: Iterable[str | Metric],
    *,
    outcomes: str = "outcomes",
    covariate: str | None = None,
    alpha: float = 0.05,
    as_of: datetime | None = None,
) -> Analysis:
    """Analyse experiment `name`: its exposures joined to the fact table `outcomes` after each
    unit's first exposure, per metric (`conversions:sum`) and cell; `.frame` is the result as
    a DataFrame (see `experiments.analysis`)."""
    from shipyard.experiments.analysis import analyze as analyze_facts
    from shipyard.features.facts import store

    return analyze_facts(
        manager().get(name),
        store(),
        metrics,
        outcomes=outcomes,
        covariate=covariate,
        alpha=alpha,
        as_of=as_of,
    )
