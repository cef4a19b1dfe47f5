"""`shipyard serve` (the scoring server) and `shipyard models score` (batch scoring).

Only click is imported here at module level: `shipyard --help` must not pay for FastAPI,
uvicorn, pandas and pyarrow. The commands import what they need when they run. `score`
is a command of the `models` group, which adds it (`models.add_command(score)`).
"""

from __future__ import annotations

import logging

import click

__all__ = ["score", "serve"]


@click.command()
@click.argument("refs", nargs=-1, metavar="[REF...]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Most rows grouped into one predict call.",
)
@click.option(
    "--max-wait-ms",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Longest a request waits for others to share its predict call.",
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="How often aliases are checked for a move.",
)
@click.option(
    "--max-body-mb",
    type=click.FloatRange(min=0.001),
    default=8.0,
    show_default=True,
    help="Largest request body accepted (413 beyond).",
)
@click.option(
    "--device",
    default=None,
    metavar="DEVICE",
    help="Load the models onto this device (cuda, cuda:1); the CPU by default. PyTorch "
    "models only: other flavors run on the CPU.",
)
@click.option(
    "--wait-for-models",
    is_flag=True,
    help="Start even if a REF names no model yet, answering 503 until it is registered "
    "(by default such a REF is an error at start).",
)
@click.option(
    "--keep-alive-seconds",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Close a connection idle this long after a response.",
)
@click.option(
    "--read-timeout-seconds",
    type=click.FloatRange(min=0.1),
    default=15.0,
    show_default=True,
    help="Close a connection whose request (headers and body) is not read in full in time.",
)
@click.option(
    "--experiments",
    "serve_experiments",
    is_flag=True,
    help="Also serve the running experiments: POST /v1/experiments/NAME/predict (stopping "
    "one is picked up within --poll-seconds).",
)
@click.option(
    "--exposure-flush-seconds",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    help="How often exposures are written (a crash loses at most this much of them).",
)
@click.option(
    "--log-vectors",
    type=click.FloatRange(0.0, 1.0),
    default=0.01,
    show_default=True,
    help="Share of served rows logged as facts (served.MODEL.VERSION) for "
    "`shipyard features drift`; models registered with a feature set only. 0: none.",
)
@click.option(
    "--online-store",
    metavar="URL",
    default=None,
    help="The online store entities are scored from (sqlite:///path or redis://host:port/db); "
    "default: the configured one.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Least severe server messages printed (to stderr).",
)
def serve(
    refs: tuple[str, ...],
    host: str,
    port: int,
    max_batch: int,
    max_wait_ms: float,
    poll_seconds: float,
    max_body_mb: float,
    device: str | None,
    wait_for_models: bool,
    keep_alive_seconds: int,
    read_timeout_seconds: float,
    serve_experiments: bool,
    exposure_flush_seconds: float,
    log_vectors: float,
    online_store: str | None,
    log_level: str,
) -> None:
    """Serve models over HTTP: POST /v1/models/NAME/predict.

    A body is rows ({"records": [...]} or {"columns": {...}}) or, for a model trained on a
    feature set, entities ({"entities": [{"member_id": 42}]}) whose vectors are read from
    the online store.

    Each REF is NAME, NAME/VERSION or NAME@ALIAS; an alias is followed, so moving it
    (`shipyard models alias ...`) swaps the served version without a restart. A REF that
    names no model is an error at start, unless --wait-for-models. Stop with Ctrl-C or
    SIGTERM: requests in flight finish first. With --experiments, the running experiments
    are served too (REFs may then be left out) and every scored request logs an exposure.
    """
    from shipyard.registry.refs import ModelRef

    if not refs and not serve_experiments:
        raise click.UsageError("give at least one REF to serve, or --experiments")
    for ref in refs:
        ModelRef.parse(ref)  # a typo fails here, with the accepted forms, not in a log line
    if device is not None:
        from shipyard.registry.flavors.devices import check_device

        device = check_device(device)  # a bad device fails here, not as load errors in the log
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from shipyard.serving.server import serve as run_server

    routing = None
    if serve_experiments:
        from shipyard.serving.experiments import ExperimentRouting

        routing = ExperimentRouting.from_config(poll_seconds, exposure_flush_seconds)
    served = [*refs, *(["the running experiments"] if serve_experiments else [])]

    def announce() -> None:  # once the references are checked: no "serving" before a refusal
        click.echo(
            f"serving {', '.join(served)} on http://{host}:{port} (Ctrl-C to stop)", err=True
        )

    run_server(
        list(refs),
        host,
        port,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        poll_seconds=poll_seconds,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        log_level=log_level,
        device=device,
        wait_for_models=wait_for_models,
        keep_alive_seconds=keep_alive_seconds,
        read_timeout_seconds=read_timeout_seconds,
        on_start=announce,
        experiments=routing,
        log_vectors=log_vectors,
        online_store=online_store,
    )


@click.command()
@click.argument("ref")
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A .parquet or .csv file of rows to score.",
)
@click.option(
    "--entities",
    "entities_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Instead of --input: a .parquet or .csv file of entity ids (a column named like the "
    "feature set's entity), scored on their vectors from the online store.",
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the rows with a 'prediction' column (.parquet or .csv).",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Rows read, scored and written at a time (bounds memory).",
)
@click.option(
    "--online-store",
    metavar="URL",
    default=None,
    help="With --entities: the online store (default: the configured one).",
)
def score(
    ref: str,
    input_path: str | None,
    entities_path: str | None,
    output_path: str,
    chunk_rows: int,
    online_store: str | None,
) -> None:
    """Score a file with model REF, streaming it in chunks, into a new file: rows of
    features (--input), or entity ids (--entities) for a model trained on a feature set."""
    if (input_path is None) == (entities_path is None):
        raise click.UsageError("give one of --input (rows of features) or --entities (ids)")
    source = input_path or entities_path
    assert source is not None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from shipyard.serving.batch import score_file

    console = Console(stderr=True, highlight=False)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"scoring with {ref}", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        rows = score_file(
            ref,
            source,
            output_path,
            chunk_rows=chunk_rows,
            on_progress=advance,
            entities=entities_path is not None,
            online_store=online_store,
        )
    Console(highlight=False).print(f"scored {rows} rows with {ref} into {output_path}")
