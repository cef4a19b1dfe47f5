"""`Experiments`: define, start, stop and inspect experiments over an `ExperimentStore`.

Definitions are checked here before anything is stored (the store keeps the rules that need a
transaction: names taken once, states moving forward, layers without overlap). Starting
resolves each cell's model reference (`ranker@production`) to the version it names then and
records it: the experiment compares those versions until it stops, whatever the aliases do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from shipyard.exceptions import ObjectNotFound
from shipyard.experiments.allocation import Allocation, AllocationError, check_shares, free_offset
from shipyard.experiments.errors import ExperimentDefinitionError
from shipyard.metadata.contract import ExperimentStore
from shipyard.metadata.experiment_records import (
    CellRecord,
    ExperimentDefinition,
    ExperimentEventRecord,
    ExperimentRecord,
    ExperimentState,
)
from shipyard.registry.refs import ModelRef, check_name

__all__ = ["Experiments", "VersionResolver", "allocation_of", "cell_pairs"]

#: The cell servers fall back to when none is named "control" and none is given.
CONTROL = "control"


class VersionResolver(Protocol):
    """Resolves a model reference to the version it names now (`ModelRegistry` does)."""

    def resolve(self, ref: str) -> Any:
        """An object with `.name` and `.version`; `ObjectNotFound` for an unknown model or
        alias, `ValueError` for text that is not a reference."""
        ...


def allocation_of(record: ExperimentRecord) -> Allocation:
    """The compiled allocation of a stored experiment (a draft's layer slice starts at 0)."""
    definition = record.definition
    return Allocation(
        definition.salt,
        {cell.name: cell.share for cell in definition.cells},
        holdout=definition.holdout,
        layer=definition.layer,
        traffic=definition.traffic,
        offset=record.offset or 0.0,
    )


def cell_pairs(specs: Iterable[str], what: str) -> dict[str, str]:
    """`NAME=VALUE` texts (the CLI's `--cell`, `--allocation`) as a dict; a name given twice or
    a text without `=` is an `ExperimentDefinitionError`."""
    pairs: dict[str, str] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ExperimentDefinitionError(f"{what} {spec!r} is not NAME=VALUE")
        if name.strip() in pairs:
            raise ExperimentDefinitionError(
                f"cell name {name.strip()!r} is used twice in {what}s; each cell needs its own name"
            )
        pairs[name.strip()] = value.strip()
    return pairs


class Experiments:
    """Experiments over `store`, their models resolved by `models`, changes recorded as
    `user`."""

    def __init__(self, store: ExperimentStore, models: VersionResolver, *, user: str) -> None:
        self._store = store
        self._models = models
        self._user = user

    # ------------------------------------------------------------------------ define

    def create(
        self,
        name: str,
        cells: Mapping[str, str],
        allocation: Mapping[str, float] | None = None,
        *,
        unit: str = "unit_id",
        salt: str | None = None,
        layer: str | None = None,
        traffic: float = 1.0,
        holdout: float = 0.0,
        control: str | None = None,
        description: str = "",
    ) -> ExperimentRecord:
        """A new draft experiment comparing the model versions `cells` names
        (`{"control": "ranker@production", "treatment": "ranker/7"}`).

        `allocation` gives each cell its share of the units (equal shares by default); `unit`
        names what is allocated (a member id column); `salt` (the name by default) seeds the
        hash; `layer` makes it share traffic with the layer's other experiments, taking
        `traffic` of it; `holdout` keeps that share of all units out (see `allocation`).
        `control` is the baseline of the analysis and what servers answer with once it
        stops ("control" or the first cell by default).
        """
        definition = self._definition(
            name,
            cells,
            allocation,
            unit=unit,
            salt=salt,
            layer=layer,
            traffic=traffic,
            holdout=holdout,
            control=control,
            description=description,
        )
        return self._store.create_experiment(definition, self._user)

    def update(self, name: str, **changes: Any) -> ExperimentRecord:
        """Change a draft (the arguments of `create`, by keyword); a running or stopped
        experiment is refused: a change is a new experiment."""
        current = self._store.get_experiment(name).definition
        arguments: dict[str, Any] = {
            "cells": {cell.name: cell.model for cell in current.cells},
            "allocation": {cell.name: cell.share for cell in current.cells},
            "unit": current.unit,
            "salt": current.salt,
            "layer": current.layer,
            "traffic": current.traffic,
            "holdout": current.holdout,
            "control": current.control,
            "description": current.description,
        }
        unknown = sorted(set(changes) - set(arguments))
        if unknown:
            raise TypeError(f"update() cannot change {unknown}; it takes {sorted(arguments)}")
        if "cells" in changes and "allocation" not in changes:
            arguments["allocation"] = None
        arguments.update(changes)
        cells = arguments.pop("cells")
        allocation = arguments.pop("allocation")
        return self._store.update_experiment(
            self._definition(name, cells, allocation, **arguments), self._user
        )

    def _definition(
        self,
        name: str,
        cells: Mapping[str, str],
        allocation: Mapping[str, float] | None,
        *,
        unit: str,
        salt: str | None,
        layer: str | None,
        traffic: float,
        holdout: float,
        control: str | None,
        description: str,
    ) -> ExperimentDefinition:
        try:
            check_name(name, "experiment name")
            if layer is not None:
                check_name(layer, "layer name")
            for cell in cells:
                check_name(cell, "cell name")
        except ValueError as exc:
            raise ExperimentDefinitionError(str(exc)) from None
        if not unit or not isinstance(unit, str):
            raise ExperimentDefinitionError("give the unit the experiment allocates (unit=...)")
        shares = self._shares(cells, allocation)
        try:
            check_shares(shares)
            Allocation(salt or name, shares, holdout=holdout, layer=layer, traffic=traffic)
        except AllocationError as exc:
            raise ExperimentDefinitionError(f"experiment {name!r}: {exc}") from None
        for cell, ref in cells.items():
            self._check_model(name, cell, ref)
        chosen = control or (CONTROL if CONTROL in cells else next(iter(cells)))
        if chosen not in cells:
            raise ExperimentDefinitionError(
                f"experiment {name!r}: control cell {chosen!r} is not one of its cells "
                f"({', '.join(cells)})"
            )
        if layer is not None:
            self._check_layer_room(name, layer, traffic)
        return ExperimentDefinition(
            name=name,
            unit=unit,
            salt=salt or name,
            cells=tuple(
                CellRecord(cell, str(ModelRef.parse(ref)), float(shares[cell]))
                for cell, ref in cells.items()
            ),
            control=chosen,
            holdout=float(holdout),
            layer=layer,
            traffic=float(traffic),
            description=description,
        )

    @staticmethod
    def _shares(
        cells: Mapping[str, str], allocation: Mapping[str, float] | None
    ) -> dict[str, float]:
        if not cells:
            raise ExperimentDefinitionError("an experiment needs at least one cell")
        if allocation is None:
            return {cell: 1 / len(cells) for cell in cells}
        unknown = sorted(set(allocation) - set(cells))
        missing = sorted(set(cells) - set(allocation))
        if unknown or missing:
            raise ExperimentDefinitionError(
                "the allocation must give a share to each cell and only to cells: "
                + "; ".join(
                    part
                    for part in (
                        f"{unknown} are not cells" if unknown else "",
                        f"{missing} have no share" if missing else "",
                    )
                    if part
                )
            )
        return {cell: allocation[cell] for cell in cells}

    def _check_model(self, name: str, cell: str, ref: str) -> None:
        try:
            self._models.resolve(str(ModelRef.parse(ref)))
        except ValueError as exc:
            raise ExperimentDefinitionError(f"experiment {name!r}, cell {cell!r}: {exc}") from None
        except ObjectNotFound as exc:
            raise ExperimentDefinitionError(
                f"experiment {name!r}, cell {cell!r}: {ref!r} names no model version: "
                f"{exc.args[0] if exc.args else exc}"
            ) from None

    def _check_layer_room(self, name: str, layer: str, traffic: float) -> None:
        running = [
            record
            for record in self._store.list_experiments(state=ExperimentState.RUNNING, layer=layer)
            if record.name != name
        ]
        taken = math.fsum(record.definition.traffic for record in running)
        if taken + traffic > 1 + 1e-9:
            listing = ", ".join(f"{r.name} ({r.definition.traffic:g})" for r in running)
            raise ExperimentDefinitionError(
                f"layer {layer!r} is over-allocated: its running experiments take {taken:g} "
                f"({listing}), so {traffic:g} more does not fit; stop one of them or ask for "
                f"at most {max(0.0, 1 - taken):g}"
            )

    # ------------------------------------------------------------------------ life

    def start(self, name: str) -> ExperimentRecord:
        """Resolve each cell's model to its version now, take a free slice of the layer and
        start; the versions are recorded in the experiment and its history."""
        record = self._store.get_experiment(name)
        definition = record.definition
        if record.state is not ExperimentState.DRAFT:
            # The store refuses it, saying why; resolving the models first would hide that
            # behind whatever became of them since.
            return self._store.start_experiment(name, versions={}, offset=0.0, user=self._user)
        versions: dict[str, int] = {}
        for cell in definition.cells:
            self._check_model(name, cell.name, cell.model)
            versions[cell.name] = int(self._models.resolve(cell.model).version)
        offset = 0.0
        if definition.layer is not None:
            self._check_layer_room(name, definition.layer, definition.traffic)
            running = self._store.list_experiments(
                state=ExperimentState.RUNNING, layer=definition.layer
            )
            slices = [(r.offset or 0.0, r.definition.traffic) for r in running]
            found = free_offset(slices, definition.traffic)
            if found is None:
                raise ExperimentDefinitionError(
                    f"layer {definition.layer!r} has room for {definition.traffic:g} in all, "
                    "but not in one piece (its running experiments are spread over it); stop "
                    "one of them or ask for less traffic"
                )
            offset = found
        return self._store.start_experiment(name, versions=versions, offset=offset, user=self._user)

    def stop(self, name: str) -> ExperimentRecord:
        """Stop a running experiment: servers answer with its control cell from now on."""
        return self._store.stop_experiment(name, self._user)

    # ------------------------------------------------------------------------ read

    def get(self, name: str) -> ExperimentRecord:
        """One experiment; `ObjectNotFound` naming those that exist."""
        return self._store.get_experiment(name)

    def list_experiments(
        self, state: ExperimentState | str | None = None
    ) -> list[ExperimentRecord]:
        """Every experiment (in `state`, when given), alphabetically."""
        wanted = None if state is None else ExperimentState(state)
        return self._store.list_experiments(state=wanted)

    def history(self, name: str) -> list[ExperimentEventRecord]:
        """Every change of an experiment, oldest first: what, who and when."""
        return self._store.experiment_history(name)

    def allocation(self, name: str) -> Allocation:
        """The compiled allocation of `name`: `assign(unit)` then costs no I/O."""
        return allocation_of(self._store.get_experiment(name))
