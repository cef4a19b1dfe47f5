"""The `shipyard` command: inspect runs, steps, tasks, logs and artifacts from a terminal.

Everything goes through the client API, so the command shows exactly what a notebook would.
`shipyard runs` is typed many times a day, so start-up time is a feature: only click is
imported at module level; the client, the stores (SQLAlchemy, fsspec) and rich are imported
inside the commands that need them.

Commands taking a pathspec look it up in the global namespace: a pathspec names one object
unambiguously, and refusing a colleague's run someone pasted would only get in the way.
Listings (`runs`, `show FLOW`) keep to the current user's runs unless `--all-users` is given.
"""

from __future__ import annotations

import os
import reprlib
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from shipyard.cli import output

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from shipyard.client import DataArtifact, Flow, Run, Step, Task
    from shipyard.client.objects import LogStream

__all__ = ["cli", "main"]

DEFAULT_RUNS_LIMIT = 25
# A value preview longer than this many lines is cut: a terminal is for a glance, the client
# API (`Task(...).data.name`) for the whole value.
_PREVIEW_MAX_LINES = 60


# -- errors ------------------------------------------------------------------------------


class ShipyardGroup(click.Group):
    """A click group that turns errors into one red line on stderr and exit code 1, or
    `INFRASTRUCTURE_EXIT_CODE` where the datastore or the metadata database failed.

    Users of an inspection tool mistype pathspecs all the time; a traceback for that would
    bury the one sentence that says what to do. `--debug` restores tracebacks.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            from shipyard.exceptions import (
                INFRASTRUCTURE_EXIT_CODE,
                InfrastructureError,
                StoreNotFound,
            )

            # No store where one was looked for is "cannot do what was asked", not a fault.
            faulty = isinstance(exc, InfrastructureError) and not isinstance(exc, StoreNotFound)
            code = INFRASTRUCTURE_EXIT_CODE if faulty else 1
            output.fail(_describe(exc), code)


def _describe(exc: Exception) -> str:
    from shipyard.exceptions import ShipyardError

    if isinstance(exc, ShipyardError | ValueError):
        return str(exc)
    return (
        f"unexpected {type(exc).__name__}: {exc} "
        "(run again with `shipyard --debug ...` to see the traceback)"
    )


@click.group(cls=ShipyardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks instead of short errors.")
def cli(debug: bool) -> None:
    """Inspect Shipyard runs: list them, show their steps and tasks, read logs and artifacts.

    Objects are named by pathspec: FlowName, FlowName/run_id, FlowName/run_id/step and
    FlowName/run_id/step/task_id.
    """


def main() -> None:
    """Entry point of the `shipyard` console script."""
    try:
        cli(prog_name="shipyard")
    except BrokenPipeError:
        # `shipyard logs ... | head`: the reader is gone, which is not an error worth showing.
        # Point stdout at /dev/null so that the flush at exit does not fail once more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None


# -- runs --------------------------------------------------------------------------------


@cli.command()
@click.argument("flow", required=False)
@click.option("--all-users", "-A", is_flag=True, help="List every user's runs, not only yours.")
@click.option(
    "--tag", "-t", "tags", multiple=True, metavar="TAG", help="Only runs with this tag (repeat)."
)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1),
    default=DEFAULT_RUNS_LIMIT,
    show_default=True,
    help="Show at most this many runs.",
)
def runs(flow: str | None, all_users: bool, tags: tuple[str, ...], limit: int) -> None:
    """List runs, newest first: yours by default, of one FLOW or of all flows."""
    from shipyard import client
    from shipyard.exceptions import StoreNotFound

    scope = None if all_users else client.get_namespace()
    try:
        with client.in_namespace(scope):
            # One more than asked for tells whether there were more to show.
            found = client.runs(flow, tags=tags, limit=limit + 1)
    except StoreNotFound as exc:
        output.console().print(output.text(f"no runs found: {exc}", "dim"))
        return
    hint = "" if all_users else "; add --all-users to see everyone's runs"
    empty = f"no runs found for {scope or 'any user'} in {_store_location()}{hint}"
    _print_runs(output.console(), found, limit, empty=empty)


def _store_location() -> str:
    """Where runs are read from, for messages: the store's folder, or the database's URL."""
    import re

    from shipyard.config import Config
    from shipyard.metadata.urls import sqlite_file

    url = Config.current().metadata
    path = sqlite_file(url)
    if path is not None:
        return str(path.expanduser().resolve().parent)
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)  # never show a password


def _print_runs(console: Console, found: list[Run], limit: int, *, empty: str) -> None:
    """The runs table, or `empty` when there is none; `found` may hold one run beyond `limit`
    to tell that the list was cut."""
    if not found:
        console.print(output.text(empty, "dim"))
        return
    console.print(_runs_table(found[:limit]))
    if len(found) > limit:
        console.print(output.text(f"showing the {limit} newest runs; use --limit for more", "dim"))


def _runs_table(found: Iterable[Run]) -> Table:
    table = output.table("run", "status", "user", "started", "duration", "tags")
    for run in found:
        table.add_row(
            output.text(run.pathspec, "bold"),
            output.status(run.status.value),
            output.text(run.user),
            output.text(output.when(run.created_at)),
            output.text(output.duration(run.created_at, run.finished_at)),
            output.text(", ".join(sorted(run.tags))),
        )
    return table


# -- show --------------------------------------------------------------------------------


@cli.command()
@click.argument("pathspec")
def show(pathspec: str) -> None:
    """Show a run (status, parameters, steps), a step (its tasks) or a task (attempts,
    artifacts, error)."""
    from shipyard import client

    obj = _lookup(pathspec)
    console = output.console()
    if isinstance(obj, client.Flow):
        _show_flow(console, obj)
    elif isinstance(obj, client.Run):
        _show_run(console, obj)
    elif isinstance(obj, client.Step):
        _show_step(console, obj)
    elif isinstance(obj, client.Task):
        _show_task(console, obj)
    else:
        _show_artifact(console, obj)


def _show_flow(console: Console, flow: Flow) -> None:
    console.print(output.fields([("Flow", output.text(flow.name, "bold"))]))
    console.print()
    found = flow.runs(limit=DEFAULT_RUNS_LIMIT + 1)
    empty = f"no runs of yours; see everyone's with `shipyard runs -A {flow.name}`"
    _print_runs(console, found, DEFAULT_RUNS_LIMIT, empty=empty)


def _show_run(console: Console, run: Run) -> None:
    rows: list[tuple[str, Text]] = [
        ("Run", output.text(run.pathspec, "bold")),
        ("Status", output.status(run.status.value)),
        ("User", output.text(run.user)),
        ("Started", output.text(output.when(run.created_at))),
        ("Finished", output.text(output.when(run.finished_at))),
        ("Duration", output.text(output.duration(run.created_at, run.finished_at))),
        ("Tags", output.text(", ".join(sorted(run.tags)) or "-")),
        ("System tags", output.text(", ".join(sorted(run.system_tags)), "dim")),
    ]
    if run.origin_run_id:
        rows.append(("Resumed from", output.text(f"{run.flow_name}/{run.origin_run_id}")))
    if run.lost:
        rows.append(
            (
                "Lost",
                output.text(
                    "marked running, but its runner is gone (killed, or its machine lost); "
                    f"continue it with `python FLOW_FILE resume {run.id}`",
                    "magenta",
                ),
            )
        )
    console.print(output.fields(rows))
    console.print()
    if run.parameters:
        params = output.table("parameter", "value", title="Parameters")
        for name, value in sorted(run.parameters.items()):
            params.add_row(output.text(name, "bold"), output.text(_preview(value, max_chars=200)))
        console.print(params)
    steps = output.table("step", "tasks", "status", "started", "duration", title="Steps")
    for step in run:
        tasks = step.tasks()
        finished = [t.finished_at for t in tasks]
        ended = None if None in finished else max(f for f in finished if f is not None)
        started = min(t.created_at for t in tasks)
        steps.add_row(
            output.text(step.id, "bold"),
            output.text(str(len(tasks))),
            output.status_counts(t.status.value for t in tasks),
            output.text(output.when(started)),
            output.text(output.duration(started, ended)),
        )
    console.print(steps)


def _show_step(console: Console, step: Step) -> None:
    console.print(output.fields([("Step", output.text(step.pathspec, "bold"))]))
    console.print()
    console.print(_tasks_table(step.tasks()))


def _tasks_table(tasks: Iterable[Task]) -> Table:
    table = output.table("task", "status", "attempts", "started", "duration", "foreach", "error")
    for task in tasks:
        error = task.exception if not task.successful else None
        table.add_row(
            output.text(task.pathspec, "bold"),
            output.status(task.status.value),
            output.text(str(len(task.attempts))),
            output.text(output.when(task.created_at)),
            output.text(output.duration(task.created_at, task.finished_at)),
            output.text(_foreach_position(task)),
            output.text(output.last_line(error), "red"),
        )
    return table


def _show_task(console: Console, task: Task) -> None:
    rows: list[tuple[str, Text]] = [
        ("Task", output.text(task.pathspec, "bold")),
        ("Status", output.status(task.status.value)),
        ("Started", output.text(output.when(task.created_at))),
        ("Finished", output.text(output.when(task.finished_at))),
        ("Duration", output.text(output.duration(task.created_at, task.finished_at))),
    ]
    if task.foreach_stack:
        frames = [f"{f.step}.{f.var}[{f.index}] of {f.num_splits}" for f in task.foreach_stack]
        rows.append(("Foreach", output.text(" > ".join(frames))))
    if task.origin_pathspec:
        rows.append(("Cloned from", output.text(task.origin_pathspec)))
    if task.resources:
        asked = ", ".join(f"{k}={v:g}" for k, v in task.resources.items())
        rows.append(("Resources", output.text(asked)))
    console.print(output.fields(rows))
    console.print()
    attempts = output.table(
        "attempt", "status", "started", "duration", "host", "exit code", "error", title="Attempts"
    )
    for attempt in task.attempts:
        attempts.add_row(
            output.text(str(attempt.attempt)),
            output.status(attempt.status.value),
            output.text(output.when(attempt.started_at)),
            output.text(output.duration(attempt.started_at, attempt.finished_at)),
            output.text(attempt.host or "-"),
            output.text("-" if attempt.exit_code is None else str(attempt.exit_code)),
            output.text(output.last_line(attempt.error), "red"),
        )
    console.print(attempts)
    if task.artifacts:
        console.print(_artifacts_table(task.artifacts.values(), task_column=False))
    if not task.successful and task.exception:
        console.print(output.text("Error", "bold red"))
        console.print(output.text(task.exception.rstrip(), "red"))


def _show_artifact(console: Console, artifact: DataArtifact) -> None:
    console.print(
        output.fields(
            [
                ("Artifact", output.text(artifact.pathspec, "bold")),
                ("Type", output.text(artifact.type_name)),
                ("Size", output.text(output.size(artifact.size))),
                ("sha256", output.text(artifact.sha, "dim")),
            ]
        )
    )
    click.echo(_preview(artifact.data))


# -- tasks -------------------------------------------------------------------------------


@cli.command()
@click.argument("pathspec")
def tasks(pathspec: str) -> None:
    """List the tasks of a run or of a step, with their status and errors."""
    from shipyard import client

    obj = _lookup(pathspec)
    if not isinstance(obj, client.Run | client.Step):
        output.fail(f"`shipyard tasks` takes a run or step pathspec, not {pathspec!r}")
    output.console().print(_tasks_table(_tasks_of(obj)))


# -- logs --------------------------------------------------------------------------------


@cli.command()
@click.argument("pathspec")
@click.option(
    "--stdout/--stderr", "stdout", default=True, help="Which stream to print (default: stdout)."
)
@click.option(
    "--attempt",
    type=click.IntRange(min=0),
    default=None,
    help="An attempt other than the last; attempts count from 0 (the first try).",
)
def logs(pathspec: str, stdout: bool, attempt: int | None) -> None:
    """Print the stored logs of a task, or of every task of a step or run (with headers)."""
    stream: LogStream = "stdout" if stdout else "stderr"
    found = _tasks_of(_lookup(pathspec), "logs")
    if len(found) == 1:
        texts = [(found[0], found[0].logs(stream, attempt))]
    else:
        # Over many tasks, a task without that attempt simply has nothing to show.
        texts = [
            (task, task.logs(stream, attempt))
            for task in found
            if attempt is None or attempt in {a.attempt for a in task.attempts}
        ]
    printed = [(task, text) for task, text in texts if text]
    if not printed:
        # On stderr, so that `> file` captures nothing but logs.
        which = "" if attempt is None else f" of attempt {attempt}"
        click.secho(f"no {stream}{which} stored for {pathspec}", dim=True, err=True)
        return
    which = "last attempt" if attempt is None else f"attempt {attempt}"
    for task, text in printed:
        if len(found) > 1:
            # Tasks that printed nothing are left out: a run has many of them.
            click.secho(f"==> {task.pathspec} ({stream}, {which}) <==", bold=True)
        click.echo(text, nl=not text.endswith("\n"))


# -- artifacts ---------------------------------------------------------------------------


@cli.command()
@click.argument("pathspec")
@click.option("--show", "name", metavar="NAME", help="Print the value of artifact NAME.")
def artifacts(pathspec: str, name: str | None) -> None:
    """List the artifacts of a task (or of every task of a step or run), or print one value."""
    found = _tasks_of(_lookup(pathspec), "artifacts")
    if name is not None:
        _show_values(found, name)
        return
    listed = [artifact for task in found for artifact in task]
    if not listed:
        output.console().print(output.text(f"no artifacts recorded for {pathspec}", "dim"))
        return
    output.console().print(_artifacts_table(listed, task_column=len(found) > 1))


def _show_values(found: list[Task], name: str) -> None:
    if len(found) == 1:
        click.echo(_preview(found[0][name].data))
        return
    having = [task for task in found if name in task]
    if not having:
        output.fail(f"no task of {found[0].flow_name}/{found[0].run_id} has an artifact {name!r}")
    for task in having:
        click.secho(f"==> {task[name].pathspec} <==", bold=True)
        click.echo(_preview(task[name].data))


def _artifacts_table(listed: Iterable[DataArtifact], *, task_column: bool) -> Table:
    columns = ["task"] if task_column else []
    table = output.table(*columns, "name", "type", "size", "sha256", title="Artifacts")
    for artifact in listed:
        task_cell = "/".join(artifact.task_pathspec.split("/")[2:])
        cells = [output.text(task_cell)] if task_column else []
        table.add_row(
            *cells,
            output.text(artifact.name, "bold"),
            output.text(artifact.type_name),
            output.text(output.size(artifact.size)),
            output.text(artifact.sha[:12], "dim"),
        )
    return table


# -- lookups -----------------------------------------------------------------------------


def _lookup(pathspec: str) -> Flow | Run | Step | Task | DataArtifact:
    """The object `pathspec` names, in any user's namespace (see the module docstring)."""
    from shipyard import client

    with client.in_namespace(None):
        return client.from_pathspec(pathspec)


def _tasks_of(obj: Flow | Run | Step | Task | DataArtifact, command: str = "tasks") -> list[Task]:
    """The tasks a run, step or task covers, in order; anything else is a usage error."""
    from shipyard import client

    if isinstance(obj, client.Task):
        return [obj]
    if isinstance(obj, client.Step):
        return obj.tasks()
    if isinstance(obj, client.Run):
        return [task for step in obj for task in step]
    output.fail(f"`shipyard {command}` takes a run, step or task pathspec, not {obj.pathspec!r}")


# -- rendering ---------------------------------------------------------------------------


def _foreach_position(task: Task) -> str:
    """Where a task sits in its (possibly nested) foreach: `2/3 > 1/2`, 1-based."""
    if not task.foreach_stack:
        return "-"
    return " > ".join(f"{frame.index + 1}/{frame.num_splits}" for frame in task.foreach_stack)


def _preview(value: Any, *, max_chars: int = 4000) -> str:
    """A repr of `value` short enough for a terminal, keeping its beginning and its shape.

    Containers show their first elements and nesting is cut a few levels down (reprlib);
    whatever is still too long is cut at `_PREVIEW_MAX_LINES` lines with a note.
    """
    shortener = reprlib.Repr()
    shortener.maxlevel = 4
    for attribute in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque"):
        setattr(shortener, attribute, 20)
    shortener.maxstring = max_chars // 4
    shortener.maxlong = 200
    shortener.maxother = max_chars
    text = shortener.repr(value)
    lines = text.splitlines()
    if len(lines) > _PREVIEW_MAX_LINES:
        hidden = len(lines) - _PREVIEW_MAX_LINES
        text = "\n".join([*lines[:_PREVIEW_MAX_LINES], f"... ({hidden} more lines)"])
    return text


# -- gc ----------------------------------------------------------------------------------


@cli.command()
@click.option("--delete", is_flag=True, help="Remove what is found (default: only report).")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Minutes a blob must be old to go: younger ones may belong to a running task.",
)
def gc(delete: bool, min_age: float) -> None:
    """Find blobs no run refers to any more, and the temporary folders of killed runners (a
    dry run unless --delete is given)."""
    from shipyard.config import Config
    from shipyard.datastore.blobs import BlobStore
    from shipyard.datastore.gc import find_garbage, remove_garbage
    from shipyard.metadata import MetadataNotFound, MetadataUnavailable, open_metadata

    config = Config.current()
    blobs = BlobStore(config.datastore)
    try:
        metadata = open_metadata(config.metadata, create=False)
    except MetadataNotFound as exc:
        # Never a new database: without the real one, every blob would look unreferenced.
        raise MetadataUnavailable(f"{exc}; gc needs it to know which blobs runs refer to") from None
    with metadata:
        report = find_garbage(blobs, metadata.referenced_hashes(), min_age * 60)
    if delete:
        remove_garbage(blobs, report)
    console = output.console()
    count = len(report.unreferenced) + len(report.temp_files)
    size = output.size(report.reclaimable_bytes)
    if delete:
        console.print(f"removed {count} unreferenced file(s), {size}", highlight=False)
    else:
        for sha, blob_size in report.unreferenced:
            console.print(f"  {sha}  {output.size(blob_size)}", highlight=False)
        for path, temp_size in report.temp_files:
            console.print(f"  {path}  {output.size(temp_size)} (left by an interrupted write)")
        console.print(
            f"{count} unreferenced file(s), {size}, could be removed from {config.datastore}; "
            "run `shipyard gc --delete` to remove them",
            highlight=False,
        )
    if report.kept_too_young:
        console.print(
            f"kept {report.kept_too_young} unreferenced blob(s) younger than {min_age:g} "
            "minutes (they may belong to a running task)",
            highlight=False,
        )
    _collect_workdirs(console, delete)


def _collect_workdirs(console: Console, delete: bool) -> None:
    """Report (or remove) the scratch folders killed runners left in the temporary directory."""
    from shipyard.runtime.workdirs import abandoned_workdirs

    left = list(abandoned_workdirs())
    if not left:
        return
    size = output.size(sum(workdir.size for workdir in left))
    if delete:
        for workdir in left:
            workdir.remove()
        console.print(f"removed {len(left)} folder(s) of killed runners, {size}", highlight=False)
        return
    for workdir in left:
        console.print(
            f"  {workdir.path}  (its runner, pid {workdir.runner_pid}, is gone)",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"{len(left)} folder(s) left by killed runners, {size}, could be removed from the "
        "temporary directory; run `shipyard gc --delete` to remove them",
        highlight=False,
    )


# -- models ------------------------------------------------------------------------------
# Imported last: the group's module takes its rendering helpers from this one.
from shipyard.cli.models import models as _models_group  # noqa: E402

cli.add_command(_models_group)

from shipyard.cli.serve import serve as _serve  # noqa: E402

cli.add_command(_serve)

from shipyard.cli.facts import facts as _facts_group  # noqa: E402

cli.add_command(_facts_group)

from shipyard.cli.features import features as _features_group  # noqa: E402

cli.add_command(_features_group)


if __name__ == "__main__":  # last: every command above must be registered first
    main()
