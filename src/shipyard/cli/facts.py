"""`shipyard facts ...`: list, describe, preview, compact, refresh and abort fact tables.

Like the rest of the `shipyard` command, only click is imported at module level; the fact
store (SQLAlchemy, pyarrow, DuckDB) loads inside the commands. Errors surface through the
`shipyard` group's one-red-line handling.
"""

from __future__ import annotations

from datetime import timedelta

import click

from shipyard.cli import output

__all__ = ["facts"]


@click.group()
def facts() -> None:
    """List, describe, preview, compact and refresh fact tables, and give up dead writes
    (see docs/features.md)."""


@facts.command("list")
def list_tables() -> None:
    """List the declared fact tables."""
    from shipyard.exceptions import StoreNotFound
    from shipyard.features import facts as api

    console = output.console()
    try:
        found = [api.describe(table.name) for table in api.list_tables()]
    except StoreNotFound as exc:
        console.print(output.text(f"no fact table is declared yet: {exc}", "dim"))
        return
    if not found:
        console.print(output.text("no fact table is declared yet; see facts.table(...)", "dim"))
        return
    table = output.table("table", "entity", "event time", "rows", "batches", "last recorded")
    for info in found:
        table.add_row(
            output.text(info.table.name, "bold"),
            output.text(info.table.entity),
            output.text(info.table.event_time),
            output.text(f"{info.rows:,}"),
            output.text(str(info.batches)),
            output.text(output.when(info.last_recorded)),
        )
    console.print(table)


@facts.command()
@click.argument("table")
def describe(table: str) -> None:
    """Show TABLE's declaration, its columns and what it holds."""
    from shipyard.features import facts as api

    info = api.describe(table)
    declared = info.table
    console = output.console()
    console.print(
        output.fields(
            [
                ("table", output.text(declared.name, "bold")),
                ("entity", output.text(declared.entity)),
                ("event time", output.text(declared.event_time)),
                ("rows", output.text(f"{info.rows:,} in {info.batches} batches")),
                ("events", output.text(_span(info.first_event, info.last_event))),
                ("last recorded", output.text(output.when(info.last_recorded))),
                (
                    "created",
                    output.text(f"{output.when(declared.created_at)} by {declared.created_by}"),
                ),
            ]
        )
    )
    columns = output.table("column", "type", "role")
    roles = {declared.entity: "entity", declared.event_time: "event time"}
    for name, kind in declared.schema.items():
        columns.add_row(output.text(name), output.text(kind), output.text(roles.get(name, "")))
    console.print(columns)


@facts.command()
@click.argument("table")
@click.option("-n", "--rows", default=10, show_default=True, help="How many facts to show.")
def head(table: str, rows: int) -> None:
    """Show the first facts of TABLE (by entity and event time) as visible now."""
    from shipyard.features import facts as api

    frame = api.read(table).head(rows)
    shown = output.table(*map(str, frame.columns))
    for values in frame.itertuples(index=False):
        shown.add_row(*(output.text(str(value)) for value in values))
    console = output.console()
    console.print(shown)
    console.print(output.text(f"{len(frame)} of {api.describe(table).rows:,} facts", "dim"))


@facts.command()
@click.argument("table")
@click.option(
    "--grace",
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="Delete the files of batches replaced by an earlier compaction this long ago.",
)
@click.option(
    "--small-rows",
    default=1_000_000,
    show_default=True,
    help="Merge the batches with fewer rows than this.",
)
def compact(table: str, grace: float, small_rows: int) -> None:
    """Merge TABLE's small batches into one; no read's answer changes, and writers may go on
    writing meanwhile."""
    from shipyard.features import facts as api

    done = api.compact(table, small_rows=small_rows, grace=timedelta(seconds=grace))
    console = output.console()
    if done.into is None:
        console.print(output.text(f"{table}: fewer than two small batches, nothing to merge"))
    else:
        console.print(
            output.text(
                f"{table}: merged {len(done.merged)} batches ({done.rows:,} facts, "
                f"{done.files_before} files) into batch {done.into} ({done.files_after} files)"
            )
        )
    if done.files_deleted:
        console.print(
            output.text(f"deleted {done.files_deleted} files of batches replaced earlier", "dim")
        )


@facts.command()
@click.argument("table")
def refresh(table: str) -> None:
    """Register the files of external TABLE that its location matches now and that are not
    part of it yet (a new warehouse export); they are recorded now."""
    from shipyard.features import facts as api

    added = api.refresh(table)
    console = output.console()
    if added is None:
        console.print(output.text(f"{table}: no new file"))
        return
    console.print(
        output.text(
            f"{table}: registered {len(added.files)} files ({added.row_count:,} facts) as "
            f"batch {added.batch_id}, recorded at {added.recorded_at.isoformat()}"
        )
    )


@facts.command()
@click.argument("table")
@click.option(
    "--older-than",
    default="1h",
    show_default=True,
    metavar="AGE",
    help="Give up the writes begun longer ago than this: a count and a unit (s, m, h, d, w).",
)
def abort(table: str, older_than: str) -> None:
    """Give up TABLE's writes that began long ago and never finished (their writer died): they
    never become visible, reads stop waiting for them, and their files are deleted."""
    from shipyard.features import facts as api
    from shipyard.features.errors import FeatureDefinitionError
    from shipyard.features.windows import parse_window

    try:
        micros = parse_window(older_than).micros
    except FeatureDefinitionError:
        micros = None
    if micros is None:
        raise click.BadParameter(
            f"{older_than!r}: write a positive count and a unit, e.g. 90s, 30m, 1h, 2d",
            param_hint="--older-than",
        )
    done = api.abort(table, older_than=timedelta(microseconds=micros))
    console = output.console()
    if not done.aborted:
        console.print(output.text(f"{table}: no write begun over {older_than} ago is unfinished"))
    else:
        listing = ", ".join(map(str, done.aborted))
        console.print(
            output.text(f"{table}: gave up {len(done.aborted)} writes (batches {listing})")
        )
    if done.files_deleted:
        console.print(output.text(f"deleted {done.files_deleted} files they left", "dim"))


def _span(first: object, last: object) -> str:
    return "-" if first is None else f"{first} .. {last}"
