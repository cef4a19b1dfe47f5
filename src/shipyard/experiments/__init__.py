"""A/B experiments: cells pointing at model versions, deterministic allocation of units,
routing in the scoring server, exposures and outcomes as facts, and their analysis
(see docs/experiments.md).

`from shipyard import experiments` is this package: `experiments.create(...)`, `start`,
`stop`, `assign`, `analyze`. The allocation is pure and imported eagerly; the analysis (DuckDB,
pandas, scipy) loads inside `analyze`.
"""

from __future__ import annotations

from shipyard.experiments.allocation import Allocation, AllocationError
from shipyard.experiments.api import (
    allocation,
    analyze,
    assign,
    create,
    get,
    history,
    list_experiments,
    manager,
    start,
    stop,
    update,
)
from shipyard.experiments.errors import ExperimentDefinitionError, SampleRatioMismatch
from shipyard.experiments.lifecycle import Experiments
from shipyard.metadata.experiment_records import (
    CellRecord,
    ExperimentEventRecord,
    ExperimentRecord,
    ExperimentState,
)

__all__ = [
    "Allocation",
    "AllocationError",
    "CellRecord",
    "ExperimentDefinitionError",
    "ExperimentEventRecord",
    "ExperimentRecord",
    "ExperimentState",
    "Experiments",
    "SampleRatioMismatch",
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
