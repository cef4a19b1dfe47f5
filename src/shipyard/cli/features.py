"""`shipyard features ...`: materialize feature sets into the online store, watch their
freshness, and prove online/offline parity.

FEATURESET names the Python definition of a feature set: `path/to/file.py:NAME` or
`package.module:NAME` (NAME may be left out when there is one feature set there). Like the
rest of the `shipyard` command, only click is imported at module level.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from shipyard.cli import output
from shipyard.cli.drift import drift

if TYPE_CHECKING:
    from shipyard.features.online import OnlineStore, ParityReport

__all__ = ["features"]

_STORE_OPTION = click.option(
    "--store",
    "store_url",
    metavar="URL",
    default=None,
    help="The online store (sqlite:///path or redis://host:port/db); default: the configured "
    "one (SHIPYARD_ONLINE_STORE, else online.db beside the metadata).",
)


@click.group()
def features() -> None:
    """Materialize feature sets into the online store, check freshness and parity (see
    docs/features.md)."""


# Drift (`shipyard features drift FEATURESET --model REF`) compares served vectors with training.
features.add_command(drift)


@features.command()
@click.argument("feature_set", metavar="FEATURESET")
@click.option("--full", is_flag=True, help="Recompute every entity, not only the changed ones.")
@_STORE_OPTION
def materialize(feature_set: str, full: bool, store_url: str | None) -> None:
    """Write FEATURESET's vectors as of now to the online store: only the entities whose
    values may have changed since the last complete run, unless --full. A killed run is
    resumed by running again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from shipyard.features.locate import load_feature_set

    definition = load_feature_set(feature_set)
    console = output.console()
    with (
        _opened(store_url) as store,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar,
    ):
        task = bar.add_task(f"{definition.name} {definition.version[:12]}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        done = definition.materialize(store, full=full, progress=advance)
    mode = "full" if done.full else f"incremental since {output.when(done.since)}"
    console.print(
        output.text(
            f"{done.feature_set} {done.version[:12]}: {done.written:,} vectors as of "
            f"{output.when(done.as_of)} ({mode}) in {output.format_seconds(done.seconds)}, "
            f"to {store.url}"
        )
    )


@features.command()
@click.option(
    "--max-lag",
    metavar="DURATION",
    default=None,
    help="Exit with status 1 when a feature set lags its facts by more than this (90s, 15m, "
    "1h, 2d), or was never materialized completely.",
)
@_STORE_OPTION
def status(max_lag: str | None, store_url: str | None) -> None:
    """Per feature set version in the online store: the newest fact, the last
    materialization, the lag between them and how many entities it holds."""
    from shipyard.features.online import OnlineStoreNotFound, freshness

    limit = None if max_lag is None else _duration(max_lag)
    console = output.console()
    try:
        with _opened(store_url, create=False) as store:
            found = freshness(store)
    except OnlineStoreNotFound as exc:
        found = []
        console.print(output.text(str(exc), "dim"))
    if not found:
        console.print(output.text("the online store holds no feature set yet", "dim"))
        return
    shown = output.table(
        "feature set", "version", "entities", "newest fact", "materialized as of", "lag"
    )
    late = []
    for entry in found:
        exceeded = limit is not None and entry.exceeds(limit)
        if exceeded:
            late.append(entry)
        lag = "never" if entry.lag is None else output.format_seconds(entry.lag.total_seconds())
        shown.add_row(
            output.text(entry.feature_set, "bold"),
            output.text(entry.version[:12]),
            output.text(f"{entry.entities:,}"),
            output.text(output.when(entry.newest_fact)),
            output.text(output.when(entry.watermark)),
            output.text(lag, "bold red" if exceeded else ""),
        )
    console.print(shown)
    if late:
        names = ", ".join(f"{e.feature_set} {e.version[:12]}" for e in late)
        output.fail(f"lag over {max_lag}: {names}; run `shipyard features materialize`")


@features.command()
@click.argument("feature_set", metavar="FEATURESET")
@click.option(
    "--sample", default=1_000, show_default=True, help="How many stored vectors to recompute."
)
@click.option(
    "--model",
    "model_ref",
    metavar="REF",
    default=None,
    help="Also compare the encoded inputs, with the fitted encoders of this model version.",
)
@_STORE_OPTION
def check(feature_set: str, sample: int, model_ref: str | None, store_url: str | None) -> None:
    """Recompute a sample of FEATURESET's online vectors offline, as of their
    materialization time, and list every value that differs; exit status 1 if any does."""
    from shipyard.features.locate import load_feature_set

    definition = load_feature_set(feature_set)
    fitted = None
    if model_ref is not None:
        from shipyard.registry import models

        fitted = models.feature_set_of(model_ref)
        if fitted is None or fitted.version != definition.version:
            output.fail(
                f"{model_ref} was not trained with {definition.name} {definition.version[:12]} "
                f"(it names {'no feature set' if fitted is None else fitted.version[:12]})"
            )
    with _opened(store_url, create=False) as store:
        report = definition.check_online(store, sample=sample, fitted=fitted)
    _print_parity(report)
    if not report.ok:
        output.fail(f"{len(report.mismatches)} mismatches between online and offline values")


def _print_parity(report: ParityReport) -> None:
    console = output.console()
    if report.mismatches:
        shown = output.table("entity", "feature", "online", "offline")
        for found in report.mismatches:
            shown.add_row(
                output.text(str(found.entity)),
                output.text(found.feature, "bold"),
                output.text(repr(found.online)),
                output.text(repr(found.offline)),
            )
        console.print(shown)
    console.print(
        output.text(
            f"{report.feature_set} {report.version[:12]}: {report.checked:,} vectors checked, "
            f"{len(report.mismatches)} mismatches",
            "green" if report.ok else "bold red",
        )
    )


@contextmanager
def _opened(url: str | None, *, create: bool = True) -> Iterator[OnlineStore]:
    """The online store `url` names (default: the configured one), closed afterwards;
    readers (`create=False`) never create one."""
    from shipyard.features.online import open_online_store

    store = open_online_store(url, create=create)
    try:
        yield store
    finally:
        store.close()


def _duration(text: str) -> timedelta:
    """A lag threshold, written like a window (`90s`, `15m`, `1h`, `2d`)."""
    from shipyard.features.errors import FeatureDefinitionError
    from shipyard.features.windows import parse_window

    try:
        micros = parse_window(text).micros
    except FeatureDefinitionError:
        micros = None
    if micros is None:
        raise click.BadParameter(
            f"{text!r}: give a duration such as 90s, 15m, 1h or 2d", param_hint="--max-lag"
        )
    return timedelta(microseconds=micros)
