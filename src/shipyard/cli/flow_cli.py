"""`python flow.py run|show ...`: the command line every flow file gets by calling `MyFlow()`."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from shipyard.cli.flow_commands import error_console, flow_commands, linted_graph
from shipyard.cli.store_choice import apply_store_choice
from shipyard.config import Config
from shipyard.exceptions import INFRASTRUCTURE_EXIT_CODE, InfrastructureError, ShipyardError
from shipyard.flow.configs import bind_configs, configs_of, read_configs
from shipyard.flow.decorator_specs import STEP_DECORATORS
from shipyard.flow.graph import FlowGraph, NodeKind
from shipyard.flow.include_file import IncludeFile
from shipyard.flow.parameters import JSONType, Parameter
from shipyard.flow.spec import FlowSpec
from shipyard.runtime.executors import DEFAULT_EXECUTOR, EXECUTORS
from shipyard.runtime.resources import ResourcesCapped


def run_flow_cli(flow_class: type[FlowSpec], args: list[str] | None = None) -> None:
    """Parse the command line for this flow and run the command; exits the process."""
    cli = build_cli(flow_class)
    cli.main(args=args, prog_name=Path(sys.argv[0]).name)


# `-h` as well as `--help`, as on the `shipyard` command: a flow takes only long options, so
# the short one is free; the setting is inherited by every subcommand.
_HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


def build_cli(flow_class: type[FlowSpec]) -> click.Group:
    @click.group(
        help=flow_class.__doc__ or f"Commands of the flow {flow_class.__name__}.",
        context_settings=_HELP_OPTIONS,
    )
    @click.option(
        "--datastore",
        metavar="KIND",
        help="As in Metaflow (local, s3, gs, azure): checked against SHIPYARD_DATASTORE.",
    )
    @click.option(
        "--datastore-root", metavar="URL", help="The datastore to use (sets SHIPYARD_DATASTORE)."
    )
    @click.option(
        "--metadata",
        metavar="KIND",
        help="As in Metaflow (local, service): checked against SHIPYARD_METADATA.",
    )
    @click.option(
        "--config",
        "config_files",
        type=(str, str),
        multiple=True,
        metavar="NAME PATH",
        help="Read the flow's Config NAME from PATH (repeatable), as in Metaflow.",
    )
    @click.option(
        "--config-value",
        "config_values",
        type=(str, str),
        multiple=True,
        metavar="NAME TEXT",
        help="Give the flow's Config NAME as text (repeatable).",
    )
    @click.option(
        "--pylint/--no-pylint",
        default=True,
        help="Accepted as in Metaflow; Shipyard lints the graph itself and never runs pylint.",
    )
    def cli(
        pylint: bool,
        datastore: str | None,
        datastore_root: str | None,
        metadata: str | None,
        config_files: tuple[tuple[str, str], ...],
        config_values: tuple[tuple[str, str], ...],
    ) -> None:
        try:
            apply_store_choice(datastore, datastore_root, metadata)
            if configs_of(flow_class):  # read once, before any command builds the graph
                values = read_configs(
                    flow_class, Config.current().user, dict(config_files), dict(config_values)
                )
                bind_configs(flow_class, values)
        except ShipyardError as exc:
            error_console().print(Text(f"error: {exc}", style="red"), soft_wrap=True)
            raise SystemExit(2) from None

    cli.add_command(_run_command(flow_class))
    cli.add_command(_resume_command(flow_class))
    cli.add_command(_show_command(flow_class))
    for command in flow_commands(flow_class):
        cli.add_command(command)
    return cli


def _parameter_option(parameter: Parameter) -> click.Option:
    type_name = getattr(parameter.type, "__name__", None) or JSONType.name
    default = ""
    if parameter.default_is_computed:
        default = " [default: computed when the run starts]"
    elif parameter.has_default and parameter.show_default:
        default = f" [default: {parameter.default!r}]"
    required = " [required]" if parameter.required and not parameter.has_default else ""
    separated = ""
    if parameter.separator:
        separated = f" (a list: values separated by {parameter.separator!r})"
    extra: dict[str, Any] = {}
    if parameter.type is bool:
        extra = {"is_flag": False, "flag_value": "true"}
    return click.Option(
        [*parameter.cli_names(), parameter.name],
        default=None,
        metavar="PATH" if isinstance(parameter, IncludeFile) else type_name.upper(),
        help=f"{parameter.help}{separated}{default}{required}",
        **extra,
    )


def _execution_options() -> list[click.Parameter]:
    """Options shared by `run` and `resume`: how much to run at once, tags, output."""
    return [
        click.Option(
            ["--max-workers"],
            type=click.IntRange(min=1),
            default=None,
            help="CPUs the tasks may use at once (default: the number of CPUs).",
        ),
        click.Option(
            ["--max-memory"],
            type=click.IntRange(min=1),
            default=None,
            help="MB of memory the running tasks' @resources may add up to (default: all).",
        ),
        click.Option(
            ["--gpus"],
            type=click.IntRange(min=0),
            default=None,
            help="GPUs the tasks may use at once, ids 0..N-1 or the first N of "
            "CUDA_VISIBLE_DEVICES (default: SHIPYARD_GPUS, else the GPUs detected, when a step "
            "asks for one).",
        ),
        click.Option(
            ["--strict-resources"],
            is_flag=True,
            help="Refuse a step whose @resources ask for more than the local executor has "
            "(default: run it with what there is, and a warning).",
        ),
        click.Option(
            ["--start-method"],
            type=click.Choice(["fork", "spawn"]),
            default=None,
            help="How the local executor starts CPU tasks: fork (from a warm fork server) or "
            "spawn (warm worker interpreters); GPU tasks are always spawned (default: "
            "SHIPYARD_START_METHOD, else spawn on macOS and fork elsewhere).",
        ),
        click.Option(
            ["--executor"],
            type=click.Choice(list(EXECUTORS)),
            default=None,
            help="Where tasks run: "
            + "; ".join(f"{kind.name}: {kind.help}" for kind in EXECUTORS.values())
            + f" (default: SHIPYARD_EXECUTOR, else {DEFAULT_EXECUTOR}).",
        ),
        click.Option(
            ["--ray-address"],
            default=None,
            metavar="ADDR",
            help="Ray cluster for --executor ray: the head's host:port, 'auto' (this machine's "
            "cluster, else a new local instance) or 'local' (default: SHIPYARD_RAY_ADDRESS, "
            "else auto).",
        ),
        click.Option(["--tag"], multiple=True, help="Tag the run (repeat for several tags)."),
        click.Option(
            ["--max-num-splits"],
            type=click.IntRange(min=1),
            default=None,
            help="Fail a foreach that would start more tasks than this (default: no limit; "
            "Metaflow's is 100).",
        ),
        click.Option(
            ["--with", "with_"],
            multiple=True,
            metavar="DECORATOR[:key=value,...]",
            help="Attach a step decorator to every step that has none of that kind "
            f"(repeatable; one of: {', '.join(STEP_DECORATORS)}), "
            "e.g. --with retry:times=2 --with catch:var=error.",
        ),
        click.Option(["--quiet"], is_flag=True, help="Print only the final summary."),
        # As in Metaflow: --run-id-file holds the run id alone; --runner-attribute-file holds
        # what `Runner` needs to find the run, as JSON (flow_name, run_id, pathspec).
        click.Option(
            ["--run-id-file"],
            default=None,
            metavar="FILE",
            help="Write the run's id to FILE once the run is recorded (as in Metaflow).",
        ),
        click.Option(["--runner-attribute-file"], default=None, hidden=True),
    ]


def _execute(
    flow_class: type[FlowSpec],
    options: dict[str, Any],
    parameters: dict[str, Any],
    resume: Any = None,
    new_metadata: bool = False,
) -> None:
    """Validate, run with live progress, report; exits 0 (succeeded), 1 (a task failed),
    2 (invalid) or `INFRASTRUCTURE_EXIT_CODE` (the datastore or the metadata failed)."""
    try:
        _run_and_report(flow_class, options, parameters, resume, new_metadata)
    except InfrastructureError as exc:
        error_console().print(Text(f"error: {exc}", style="red"), soft_wrap=True)
        raise SystemExit(INFRASTRUCTURE_EXIT_CODE) from None


def _run_and_report(
    flow_class: type[FlowSpec],
    options: dict[str, Any],
    parameters: dict[str, Any],
    resume: Any,
    new_metadata: bool,
) -> None:
    from shipyard.runtime.launch import FlowRun, RunOptions

    graph = linted_graph(flow_class, options["with_"])
    run_options = RunOptions(
        max_workers=options["max_workers"],
        tags=options["tag"],
        max_memory_mb=options["max_memory"],
        gpus=options["gpus"],
        start_method=options["start_method"],
        executor=options["executor"],
        ray_address=options["ray_address"],
        with_decorators=options["with_"],
        new_metadata=new_metadata,
        strict_resources=options["strict_resources"],
        max_num_splits=options["max_num_splits"],
    )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourcesCapped)
            flow_run = FlowRun(flow_class, parameters, run_options, resume=resume)
        _show_warnings(caught)
    except InfrastructureError:
        raise
    except ShipyardError as exc:
        error_console().print(Text(f"error: {exc}", style="red"), soft_wrap=True)
        raise SystemExit(2) from None
    if options["run_id_file"]:
        _write_atomically(Path(options["run_id_file"]), flow_run.run_id)
    if options["runner_attribute_file"]:
        attributes = {
            "flow_name": flow_class.__name__,
            "run_id": flow_run.run_id,
            "pathspec": flow_run.pathspec,
        }
        _write_atomically(Path(options["runner_attribute_file"]), json.dumps(attributes))
    console = Console()
    if not options["quiet"] and flow_run.executor_kind.name != DEFAULT_EXECUTOR:
        console.print(f"Tasks run on {flow_run.executor.description}", highlight=False)
    if flow_run.plan is not None:
        reused = len(flow_run.plan.reusable)
        console.print(
            f"Resuming {flow_run.plan.origin.pathspec} as {flow_run.pathspec}: "
            f"{reused} finished task(s) can be reused",
            highlight=False,
        )
    started = time.monotonic()
    if options["quiet"]:
        summary = flow_run.execute()
    else:
        from shipyard.cli.progress import Listeners, RunProgress, task_output

        plain = not console.is_terminal or flow_run.executor_kind.shares_terminal
        with (
            RunProgress(graph, flow_run.pathspec, console, plain) as live,
            task_output(flow_run, console) as echo,
        ):
            summary = flow_run.execute(Listeners(live, *echo))
    _report(console, flow_run.pathspec, summary, time.monotonic() - started)
    if any(result.storage_error for _, result in summary.failures):
        raise SystemExit(INFRASTRUCTURE_EXIT_CODE)
    raise SystemExit(0 if not summary.failures and summary.status.value == "succeeded" else 1)


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Shipyard's own warnings as one line each; anything else as Python shows it."""
    for warning in caught:
        if issubclass(warning.category, ResourcesCapped):
            error_console().print(
                Text(f"warning: {warning.message}", style="yellow"), soft_wrap=True
            )
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


_EXECUTION_KEYS = (
    "max_workers",
    "max_memory",
    "gpus",
    "strict_resources",
    "start_method",
    "executor",
    "ray_address",
    "tag",
    "max_num_splits",
    "with_",
    "quiet",
    "run_id_file",
    "runner_attribute_file",
)


def _split_options(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    options = {key: values.pop(key) for key in _EXECUTION_KEYS}
    return options, values


def _run_command(flow_class: type[FlowSpec]) -> click.Command:
    def run(new_metadata: bool, **values: Any) -> None:
        options, parameters = _split_options(values)
        _execute(flow_class, options, parameters, new_metadata=new_metadata)

    params = [
        *_execution_options(),
        click.Option(
            ["--new-metadata"],
            is_flag=True,
            help="Start a new metadata database where there is none, even though the "
            "datastore holds data of earlier runs (refused without it: run ids would start "
            "from 1 again).",
        ),
        *[
            _parameter_option(p)
            for name, p in flow_class.parameters().items()
            if name not in configs_of(flow_class)
        ],
    ]
    return click.Command("run", callback=run, params=params, help="Run the flow.")


def _resume_command(flow_class: type[FlowSpec]) -> click.Command:
    def resume(
        target: str | None, step: str | None, origin_run_id: str | None, **values: Any
    ) -> None:
        from shipyard.runtime.launch import ResumeRequest

        options, _ = _split_options(values)
        run_id, step = _resume_target(flow_class, target, step, origin_run_id)
        _execute(flow_class, options, {}, resume=ResumeRequest(run_id, step))

    params: list[click.Parameter] = [
        click.Argument(["target"], required=False, metavar="[STEP|RUN_ID]"),
        click.Option(
            ["--step"],
            default=None,
            help="Run again from this step (and all after it), even if it succeeded.",
        ),
        click.Option(
            ["--origin-run-id"],
            default=None,
            metavar="RUN_ID",
            help="The run to resume (default: your latest run), as in Metaflow.",
        ),
        *_execution_options(),
    ]
    return click.Command(
        "resume",
        callback=resume,
        params=params,
        help=(
            "Run a failed run again, reusing every task that succeeded before the failure "
            "(default: your latest run). Uses the current code and the run's parameters. "
            "As in Metaflow, `resume STEP --origin-run-id ID` runs again from STEP; "
            "`resume RUN_ID --step STEP` says the same."
        ),
    )


def _resume_target(
    flow_class: type[FlowSpec], target: str | None, step: str | None, origin_run_id: str | None
) -> tuple[str | None, str | None]:
    """(run id, step) from either spelling: the positional is a step when the flow has one of
    that name (Metaflow's `resume STEP`), else a run id (Shipyard's `resume RUN_ID`)."""
    run_id = origin_run_id
    if target is not None:
        is_step = target in linted_graph(flow_class).nodes
        given_twice = step if is_step else run_id
        if given_twice is not None and given_twice != target:
            what = "step" if is_step else "run id"
            error_console().print(
                Text(
                    f"error: resume got two {what}s, {target!r} and {given_twice!r}; give one",
                    style="red",
                )
            )
            raise SystemExit(2)
        if is_step:
            step = target
        else:
            run_id = target
    return run_id, step


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _report(console: Console, pathspec: str, summary: Any, seconds: float) -> None:
    if summary.failures:
        errors = error_console()
        for spec, result in summary.failures:
            error = Text(result.error or "the task failed", style="red")
            if errors.is_terminal:
                title = f"[bold]{spec.pathspec}[/] failed"
                errors.print(Panel(error, title=title, title_align="left", border_style="red"))
            else:  # logs and CI: no box, no wrapping, so tracebacks stay greppable
                errors.print(f"--- {spec.pathspec} failed ---", highlight=False)
                errors.print(error, soft_wrap=True)
            streams = [f"shipyard logs {spec.pathspec}"] if result.stdout_hash else []
            if result.stderr_hash:
                streams.append(f"shipyard logs {spec.pathspec} --stderr")
            if streams:
                errors.print(f"  logs: {'  ·  '.join(streams)}", highlight=False, soft_wrap=True)
        errors.print(
            f"[bold red]✗ Run {pathspec} failed[/] after {seconds:.1f}s "
            f"({_counted(summary)} started)",
            highlight=False,
        )
        return
    console.print(
        f"[bold green]✓ Run {pathspec} succeeded[/]: {_counted(summary)} in {seconds:.1f}s",
        highlight=False,
    )
    console.print(
        f"  inspect: shipyard show {pathspec}  ·  Run('{pathspec}').data", highlight=False
    )


def _counted(summary: Any) -> str:
    """`9 tasks`, or `9 tasks (11 attempts)` when some were retried: tasks as `shipyard tasks`
    lists them, never attempts counted as tasks."""
    tasks = f"{summary.tasks_run} task{'s' if summary.tasks_run != 1 else ''}"
    if summary.attempts_run == summary.tasks_run:
        return tasks
    return f"{tasks} ({summary.attempts_run} attempts)"


def _show_command(flow_class: type[FlowSpec]) -> click.Command:
    def show() -> None:
        graph = linted_graph(flow_class)
        console = Console()
        console.print(Text(flow_class.__name__, style="bold cyan"))
        if flow_class.__doc__:
            console.print(Text(flow_class.__doc__.strip(), style="dim"))
        parameters = flow_class.parameters()
        if parameters:
            console.print("\n[bold]Parameters[/]")
            for p in parameters.values():
                console.print(f"  --{p.option}  {p.help}", highlight=False)
        console.print()
        for node in graph.topological():
            console.print(_describe_node(graph, node.name))
            if node.doc:
                for line in node.doc.splitlines():
                    console.print(Text(f"      {line}", style="dim"))

    return click.Command("show", callback=show, help="Show the flow's steps and how they connect.")


def _describe_node(graph: FlowGraph, name: str) -> Text:
    node = graph[name]
    text = Text("  ◆ " if node.is_join else "  ● ", style="cyan")
    text.append(name, style="bold")
    if node.kind is NodeKind.FOREACH:
        text.append(f"  ⇉ {node.out[0]} (foreach {node.foreach_var})", style="magenta")
    elif node.kind is NodeKind.PARALLEL:
        size = "N" if node.num_parallel is None else node.num_parallel
        text.append(f"  ⇶ {node.out[0]} (@parallel gang of {size})", style="magenta")
    elif node.kind is NodeKind.SWITCH:
        cases = ", ".join(f"{value!r} → {step}" for value, step in node.cases.items())
        text.append(f"  ⑂ one of: {cases} (by {node.condition})", style="yellow")
    elif node.kind is NodeKind.BRANCH:
        text.append(f"  ⑂ {', '.join(node.out)}", style="yellow")
    elif node.kind is NodeKind.LINEAR:
        text.append(f"  → {node.out[0]}")
    if node.is_join:
        text.append("  (join)", style="dim")
    return text
