"""`shipyard features drift`: the vectors a model was served, compared with its training.

A command of the `features` group (which adds it). Like every command module, only click is
imported at module level.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from shipyard.cli import output

if TYPE_CHECKING:
    from shipyard.features.drift import DriftReport

__all__ = ["drift"]


@click.command()
@click.argument("feature_set")
@click.option(
    "--model",
    "model_ref",
    required=True,
    metavar="REF",
    help="The model whose served vectors to compare: NAME, NAME/3 or NAME@ALIAS.",
)
@click.option(
    "--since",
    default=None,
    metavar="WINDOW",
    help="Only vectors served in this last span (90s, 15m, 12h, 7d, 2w); default: all.",
)
@click.option(
    "--psi",
    type=click.FloatRange(min=0),
    default=0.2,
    show_default=True,
    help="Flag a column whose population stability index is above this.",
)
@click.option(
    "--ks",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Flag a numeric column whose Kolmogorov-Smirnov statistic is above this (and "
    "significant at 1%).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def drift(
    feature_set: str, model_ref: str, since: str | None, psi: float, ks: float, as_json: bool
) -> None:
    """Compare the vectors REF was served with its training snapshot, column by column.

    Served vectors are the sample `shipyard serve` logs (--log-vectors) for a model registered
    with a feature set. Exits 1 when some column is flagged, so it can watch from a scheduler.
    """
    from shipyard.features import facts
    from shipyard.features.drift import Thresholds
    from shipyard.features.drift import drift as compare
    from shipyard.features.served import read_served, served_table
    from shipyard.features.windows import parse_window
    from shipyard.registry import models

    registry = models.registry()
    version = registry.resolve(model_ref)
    if version.feature_set is None or version.feature_set.name != feature_set:
        trained = "no feature set" if version.feature_set is None else version.feature_set.name
        raise click.UsageError(
            f"{version.ref} was trained with {trained}, not feature set {feature_set!r}"
        )
    snapshot = registry.training_snapshot_of(version)
    start = None
    if since is not None:
        micros = parse_window(since).micros
        start = None if micros is None else datetime.now(UTC) - timedelta(microseconds=micros)
    served = read_served(facts.store(), version.name, version.version, start)
    report = compare(snapshot, served, Thresholds(psi=psi, ks=ks))
    if as_json:
        import json

        document = {"feature_set": feature_set, "model": version.ref, **report.to_json()}
        click.echo(json.dumps(document, indent=2))
    else:
        _print(report, version.ref, served_table(version.name, version.version))
    if report.flagged:
        raise SystemExit(1)


def _print(report: DriftReport, model: str, table_name: str) -> None:
    console = output.console()
    if not report.served:
        console.print(
            output.text(
                f"no served vectors of {model} logged in {table_name}: serve it with "
                "`shipyard serve --log-vectors RATE` first",
                "dim",
            )
        )
        return
    limits = report.thresholds
    table = output.table(
        "column",
        "kind",
        "trained",
        "served",
        f"PSI (>{limits.psi:g})",
        f"KS (>{limits.ks:g})",
        "",
        title=f"drift of {model}: {report.served:,} served vectors vs its training snapshot",
    )
    for column in report.columns:
        table.add_row(
            output.text(column.column),
            column.kind.value,
            f"{column.trained:,}",
            f"{column.served:,}",
            f"{column.psi:.3f}",
            "-" if column.ks is None else f"{column.ks:.3f}",
            output.text("drift", "bold red") if column.flagged else output.text("ok", "green"),
        )
    console.print(table)
    flagged = report.flagged
    summary = f"{len(flagged)} of {len(report.columns)} columns drifted: {', '.join(flagged)}"
    console.print(
        output.text(summary if flagged else "no column drifted", "bold" if flagged else "dim")
    )
