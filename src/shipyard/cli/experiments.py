"""`shipyard experiments ...`: create, start, stop, list, show, history and analyze experiments.

Like the rest of the `shipyard` command, only click is imported at module level; the stores
and the analysis (DuckDB, pandas, scipy) load inside the commands. Errors surface through the
`shipyard` group's one-red-line handling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from shipyard.cli import output

if TYPE_CHECKING:
    from rich.text import Text

    from shipyard.metadata.experiment_records import ExperimentRecord

__all__ = ["experiments"]

_STATE_STYLES = {"draft": "dim", "running": "yellow", "stopped": "green"}


@click.group()
def experiments() -> None:
    """Define, run and analyse A/B experiments over model versions (see docs/experiments.md)."""


@experiments.command()
@click.argument("name")
@click.option(
    "--cell",
    "cells",
    multiple=True,
    required=True,
    metavar="CELL=MODEL",
    help="A cell and the model version it serves (ranker@production, ranker/7); repeat.",
)
@click.option(
    "--allocation",
    "shares",
    multiple=True,
    metavar="CELL=SHARE",
    help="A cell's share of the units (equal shares when none is given); repeat.",
)
@click.option("--unit", default="unit_id", show_default=True, help="What is allocated.")
@click.option("--salt", default=None, help="Seed of the allocation hash (default: NAME).")
@click.option("--layer", default=None, help="Share traffic with the layer's experiments.")
@click.option(
    "--traffic",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="Share of the layer (or of all units) the experiment takes.",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of all units held out of every experiment (the global holdout).",
)
@click.option("--control", default=None, help="The baseline cell (default: 'control').")
@click.option("--description", default="", help="What the experiment tests.")
def create(
    name: str,
    cells: tuple[str, ...],
    shares: tuple[str, ...],
    unit: str,
    salt: str | None,
    layer: str | None,
    traffic: float,
    holdout: float,
    control: str | None,
    description: str,
) -> None:
    """Define experiment NAME as a draft (start it with `shipyard experiments start`)."""
    from shipyard.experiments import api
    from shipyard.experiments.errors import ExperimentDefinitionError
    from shipyard.experiments.lifecycle import cell_pairs

    allocation = None
    if shares:
        allocation = {}
        for cell, share in cell_pairs(shares, "allocation").items():
            try:
                allocation[cell] = float(share)
            except ValueError:
                raise ExperimentDefinitionError(
                    f"the share of cell {cell!r} must be a number, not {share!r}"
                ) from None
    record = api.create(
        name,
        cell_pairs(cells, "cell"),
        allocation,
        unit=unit,
        salt=salt,
        layer=layer,
        traffic=traffic,
        holdout=holdout,
        control=control,
        description=description,
    )
    _show(record)


@experiments.command()
@click.argument("name")
def start(name: str) -> None:
    """Start NAME: resolve its cells' models to versions now and serve them."""
    from shipyard.experiments import api

    _show(api.start(name))


@experiments.command()
@click.argument("name")
def stop(name: str) -> None:
    """Stop NAME: servers answer its requests with the control cell from now on."""
    from shipyard.experiments import api

    _show(api.stop(name))


@experiments.command("list")
@click.option("--state", type=click.Choice(["draft", "running", "stopped"]), help="Only these.")
def list_experiments(state: str | None) -> None:
    """List the experiments."""
    from shipyard.exceptions import StoreNotFound
    from shipyard.experiments import api

    console = output.console()
    try:
        found = api.list_experiments(state)
    except StoreNotFound as exc:
        console.print(output.text(f"there are no experiments yet: {exc}", "dim"))
        return
    if not found:
        console.print(output.text("there are no experiments yet; see experiments create", "dim"))
        return
    table = output.table("experiment", "state", "unit", "cells", "layer", "started", "by")
    for record in found:
        definition = record.definition
        table.add_row(
            output.text(record.name, "bold"),
            _state(record),
            output.text(definition.unit),
            output.text(", ".join(_cell_text(record, cell.name) for cell in definition.cells)),
            output.text(definition.layer or "-"),
            output.text(output.when(record.started_at)),
            output.text(record.created_by),
        )
    console.print(table)


@experiments.command()
@click.argument("name")
def show(name: str) -> None:
    """Show NAME's definition and state."""
    from shipyard.experiments import api

    _show(api.get(name))


@experiments.command()
@click.argument("name")
def history(name: str) -> None:
    """Every change of NAME: what, who and when."""
    import json

    from shipyard.experiments import api

    table = output.table("when", "what", "who", "details")
    for event in api.history(name):
        details = json.dumps(event.details, sort_keys=True) if event.details else ""
        table.add_row(
            output.text(output.when(event.at)),
            output.text(str(event.action), "bold"),
            output.text(event.user),
            output.text(details, "dim"),
        )
    output.console().print(table)


def _state(record: ExperimentRecord) -> Text:
    return output.text(str(record.state), _STATE_STYLES.get(str(record.state), ""))


def _cell_text(record: ExperimentRecord, name: str) -> str:
    cell = next(cell for cell in record.definition.cells if cell.name == name)
    version = "" if cell.version is None else f" (v{cell.version})"
    return f"{cell.name}={cell.model}{version} {cell.share:g}"


def _show(record: ExperimentRecord) -> None:
    definition = record.definition
    slice_text = f"{definition.traffic:g}"
    if record.offset is not None:
        slice_text += f" from {record.offset:g}"
    rows: list[tuple[str, Text]] = [
        ("experiment", output.text(record.name, "bold")),
        ("state", _state(record)),
        ("unit", output.text(definition.unit)),
        ("salt", output.text(definition.salt)),
        ("layer", output.text(definition.layer or "- (its own)")),
        ("traffic", output.text(slice_text)),
        ("holdout", output.text(f"{definition.holdout:g}")),
        ("control", output.text(definition.control)),
        ("created", output.text(f"{output.when(record.created_at)} by {record.created_by}")),
        ("started", output.text(output.when(record.started_at))),
        ("stopped", output.text(output.when(record.stopped_at))),
    ]
    if definition.description:
        rows.append(("description", output.text(definition.description)))
    console = output.console()
    console.print(output.fields(rows))
    table = output.table("cell", "model", "version", "share")
    for cell in definition.cells:
        table.add_row(
            output.text(cell.name, "bold" if cell.name == definition.control else ""),
            output.text(cell.model),
            output.text("-" if cell.version is None else str(cell.version)),
            output.text(f"{cell.share:g}"),
        )
    console.print(table)


@experiments.command()
@click.argument("name")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    required=True,
    metavar="COLUMN:AGG",
    help="An outcome column and its per-unit aggregation (sum, mean, count, min, max); repeat.",
)
@click.option("--outcomes", default="outcomes", show_default=True, help="The outcomes table.")
@click.option("--covariate", default=None, help="A pre-period column for CUPED.")
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="1 - the confidence level of the intervals.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def analyze(
    name: str,
    metrics: tuple[str, ...],
    outcomes: str,
    covariate: str | None,
    alpha: float,
    as_json: bool,
) -> None:
    """Compare NAME's cells with its control on outcome METRICs after each unit's first
    exposure (Welch intervals, CUPED with --covariate); a sample-ratio mismatch is reported
    first."""
    import json
    import warnings

    from shipyard.experiments import api
    from shipyard.experiments.errors import SampleRatioMismatch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleRatioMismatch)  # reported below, in red
        analysis = api.analyze(
            name, list(metrics), outcomes=outcomes, covariate=covariate, alpha=alpha
        )
    if analysis.srm.mismatch:
        click.secho(f"WARNING: {analysis.srm.describe()}", fg="red", bold=True, err=True)
    if as_json:
        click.echo(json.dumps(analysis.to_dict(), indent=2))
        return
    level = f"{1 - alpha:.0%}"
    table = output.table(
        "metric", "cell", "units", "mean", "diff", f"{level} CI", "lift", f"{level} CI", "p",
        *(["var. reduction"] if covariate else []),
        title=f"{name}: each cell against {analysis.control}",
    )  # fmt: skip
    for row in analysis.frame.to_dict(orient="records"):
        control = row["cell"] == analysis.control
        cells = [
            output.text(row["metric"]),
            output.text(row["cell"], "bold" if control else ""),
            output.text(f"{row['units']:,}"),
            output.text(_number(row["mean"])),
            output.text("" if control else _number(row["diff"])),
            output.text("" if control else _interval(row["diff_low"], row["diff_high"])),
            output.text("" if control else _percent(row["lift"])),
            output.text(
                "" if control else f"[{_percent(row['lift_low'])}, {_percent(row['lift_high'])}]"
            ),
            output.text("" if control else _number(row["p_value"])),
        ]
        if covariate:
            cells.append(output.text("" if control else _percent(row["variance_reduction"])))
        table.add_row(*cells)
    output.console().print(table)


def _number(value: float) -> str:
    return "-" if value != value else f"{value:.4g}"  # NaN: undefined (too few units)


def _percent(value: float) -> str:
    return "-" if value != value else f"{value:+.2%}"


def _interval(low: float, high: float) -> str:
    return f"[{_number(low)}, {_number(high)}]"
