"""Flow-file commands besides run and resume: `check`, `output-dot`, `logs`, `dump`, `tag`.

They are Metaflow's spellings (`python flow.py logs 12/train/3`), so a pathspec may leave out
the flow's name: the file says which flow it is. Reading goes through the client API and the
`shipyard` command's own commands, so a flow file shows exactly what `shipyard` would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click
from rich.console import Console
from rich.text import Text

from shipyard.cli import output
from shipyard.exceptions import DecoratorSpecError, FlowLintErrors, ShipyardError
from shipyard.flow.decorator_specs import graph_with
from shipyard.flow.graph import FlowGraph, Node, NodeKind
from shipyard.flow.spec import FlowSpec

if TYPE_CHECKING:
    from shipyard.client import Run, Task


def error_console() -> Console:
    return Console(stderr=True)


def linted_graph(flow_class: type[FlowSpec], with_decorators: tuple[str, ...] = ()) -> FlowGraph:
    """The flow's graph, or every problem printed and exit status 2."""
    try:
        return graph_with(flow_class, with_decorators)
    except DecoratorSpecError as exc:
        error_console().print(Text(f"error: {exc}", style="red"), soft_wrap=True)
        raise SystemExit(2) from None
    except FlowLintErrors as exc:
        console = error_console()
        console.print(f"[bold red]The flow {flow_class.__name__} is not valid:[/]")
        for error in exc.errors:
            console.print(Text(f"  {error.render()}"), soft_wrap=True)
        raise SystemExit(2) from None


def flow_commands(flow_class: type[FlowSpec]) -> list[click.Command]:
    return [
        _check_command(flow_class),
        _output_dot_command(flow_class),
        _logs_command(flow_class),
        _dump_command(flow_class),
        _tag_group(flow_class),
    ]


def full_pathspec(flow_class: type[FlowSpec], given: str) -> str:
    """`12/train/3` -> `TrainFlow/12/train/3`; a pathspec naming the flow stays as it is."""
    name = flow_class.__name__
    given = given.strip("/")
    return given if given == name or given.startswith(f"{name}/") else f"{name}/{given}"


def _check_command(flow_class: type[FlowSpec]) -> click.Command:
    def check() -> None:
        graph = linted_graph(flow_class)
        click.echo(f"The flow {flow_class.__name__} is valid: {len(graph.nodes)} steps.")

    return click.Command(
        "check", callback=check, help="Lint the flow (the graph and its decorators); run nothing."
    )


def _output_dot_command(flow_class: type[FlowSpec]) -> click.Command:
    def output_dot() -> None:
        click.echo(graph_dot(linted_graph(flow_class)))

    return click.Command(
        "output-dot",
        callback=output_dot,
        help="Print the flow's graph in Graphviz dot (`| dot -Tpng -o flow.png`).",
    )


def graph_dot(graph: FlowGraph) -> str:
    lines = ["digraph {", "  rankdir=TB;", "  node [shape=box, style=rounded];"]
    for node in graph.topological():
        shape = "diamond" if node.is_join else "box"
        lines.append(f'  "{node.name}" [shape={shape}];')
    for node in graph.topological():
        for target in node.out:
            label = _edge_label(node, target)
            quoted = label.replace('"', '\\"')
            attributes = f' [label="{quoted}"]' if label else ""
            lines.append(f'  "{node.name}" -> "{target}"{attributes};')
    lines.append("}")
    return "\n".join(lines)


def _edge_label(node: Node, target: str) -> str:
    """What an edge means when it is not a plain hand-over: which value of a condition takes
    it, a foreach's variable, or a gang's size."""
    match node.kind:
        case NodeKind.FOREACH:
            return f"foreach {node.foreach_var}"
        case NodeKind.SWITCH:
            values = [repr(value) for value, step in node.cases.items() if step == target]
            return f"{node.condition} = {' | '.join(values)}"
        case NodeKind.PARALLEL:
            return f"num_parallel={node.num_parallel or '?'}"
        case _:
            return ""


def _logs_command(flow_class: type[FlowSpec]) -> click.Command:
    def logs(pathspec: str, stdout: bool, attempt: int | None) -> None:
        from shipyard.cli.main import logs as shipyard_logs

        with click.Context(shipyard_logs) as ctx:
            _as_cli_error(
                lambda: ctx.invoke(
                    shipyard_logs,
                    pathspec=full_pathspec(flow_class, pathspec),
                    stdout=stdout,
                    attempt=attempt,
                )
            )

    return click.Command(
        "logs",
        callback=logs,
        params=[
            click.Argument(["pathspec"], metavar="RUN_ID[/STEP[/TASK_ID]]"),
            click.Option(
                ["--stdout/--stderr", "stdout"],
                default=True,
                help="Which stream to print (default: stdout).",
            ),
            click.Option(
                ["--attempt"],
                type=click.IntRange(min=0),
                default=None,
                help="An attempt other than the last; attempts count from 0.",
            ),
        ],
        help="Print the stored logs of a task, or of every task of a step or run.",
    )


def _dump_command(flow_class: type[FlowSpec]) -> click.Command:
    def dump(pathspec: str, include: str | None) -> None:
        wanted = [name.strip() for name in include.split(",")] if include else []
        tasks = _as_cli_error(lambda: _tasks(full_pathspec(flow_class, pathspec)))
        for task in tasks:
            click.secho(f"==> {task.pathspec} <==", bold=True)
            names = wanted or sorted(artifact.name for artifact in task)
            for name in names:
                value = task[name].data if name in task else "(no such artifact)"
                click.echo(f"{name}: {output.preview(value)}")

    return click.Command(
        "dump",
        callback=dump,
        params=[
            click.Argument(["pathspec"], metavar="RUN_ID/STEP[/TASK_ID]"),
            click.Option(
                ["--include"],
                default=None,
                metavar="NAME,NAME",
                help="Only these artifacts (comma-separated).",
            ),
        ],
        help="Print the artifacts of a task, or of every task of a step.",
    )


def _tasks(pathspec: str) -> list[Task]:
    from shipyard import client

    with client.in_namespace(None):
        found = client.from_pathspec(pathspec)
    if isinstance(found, client.Task):
        return [found]
    if isinstance(found, client.Step):
        return found.tasks()
    raise ShipyardError(f"dump takes RUN_ID/STEP or RUN_ID/STEP/TASK_ID, not {pathspec!r}")


def _tag_group(flow_class: type[FlowSpec]) -> click.Group:
    run_id_option = click.Option(
        ["--run-id"], default=None, help="The run (default: your latest run of this flow)."
    )
    tags_argument = click.Argument(["tags"], nargs=-1, required=True)

    def add(run_id: str | None, tags: tuple[str, ...]) -> None:
        run = _as_cli_error(lambda: _run(flow_class, run_id))
        _as_cli_error(lambda: run.add_tags(tags))
        _print_tags(run)

    def remove(run_id: str | None, tags: tuple[str, ...]) -> None:
        run = _as_cli_error(lambda: _run(flow_class, run_id))
        _as_cli_error(lambda: run.remove_tags(tags))
        _print_tags(run)

    def list_tags(run_id: str | None) -> None:
        _print_tags(_as_cli_error(lambda: _run(flow_class, run_id)))

    group = click.Group("tag", help="Add, remove or list the user tags of a run.")
    group.add_command(
        click.Command(
            "add", callback=add, params=[run_id_option, tags_argument], help="Add tags to a run."
        )
    )
    group.add_command(
        click.Command(
            "remove",
            callback=remove,
            params=[run_id_option, tags_argument],
            help="Remove tags from a run.",
        )
    )
    group.add_command(
        click.Command("list", callback=list_tags, params=[run_id_option], help="List a run's tags.")
    )
    return group


def _run(flow_class: type[FlowSpec], run_id: str | None) -> Run:
    from shipyard import client

    if run_id is not None:
        return client.Run(full_pathspec(flow_class, run_id))
    latest = client.Flow(flow_class.__name__).latest_run
    if latest is None:
        raise ShipyardError(f"you have no run of {flow_class.__name__}; pass --run-id")
    return latest


def _print_tags(run: Run) -> None:
    click.echo(f"{run.pathspec}: {', '.join(sorted(run.user_tags)) or '(no tags)'}")


T = TypeVar("T")


def _as_cli_error(action: Callable[[], T]) -> T:
    """Run `action`; a Shipyard error (no such run, a reserved tag) is one red line, exit 1."""
    try:
        return action()
    except ShipyardError as exc:
        error_console().print(Text(f"error: {exc}", style="red"), soft_wrap=True)
        raise SystemExit(1) from None
