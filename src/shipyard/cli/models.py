"""`shipyard models ...`: register, list, inspect, alias and roll back registered models.

Like the rest of the `shipyard` command, only click is imported at module level; the registry
(SQLAlchemy, pandas) loads inside the commands. Errors surface through the `shipyard` group's
one-red-line handling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shipyard.cli import output
from shipyard.cli.serve import score

if TYPE_CHECKING:
    import pandas

    from shipyard.registry import ModelRegistry

__all__ = ["models"]


@click.group()
def models() -> None:
    """Register, list, inspect, alias and roll back models.

    A model is named by reference: NAME (its newest version), NAME/3 (version 3) or
    NAME@ALIAS (the version an alias points at).
    """


# Batch scoring (`shipyard models score REF --input ... --output ...`) lives with the server.
models.add_command(score)


def _registry() -> ModelRegistry:
    from shipyard.registry import models as api

    return api.registry()


# -- register ----------------------------------------------------------------------------


@models.command()
@click.argument("name")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="PATHSPEC:ARTIFACT",
    help="The artifact to register, e.g. TrainFlow/12/train/3:model.",
)
@click.option("--flavor", help="sklearn, xgboost, pytorch or python (detected if not given).")
@click.option("--description", "-d", default="", help="Free text describing the version.")
@click.option("--metric", "-m", "metrics", multiple=True, metavar="KEY=VALUE", help="Repeat.")
@click.option("--tag", "-t", "tags", multiple=True, metavar="KEY=VALUE", help="Repeat.")
@click.option(
    "--input-example",
    "example",
    metavar="FILE|PATHSPEC:ARTIFACT",
    help="Rows the model takes (a .parquet, .csv or .json file, or a data frame artifact such "
    "as TrainFlow/12/start/1:valid_x): the signature is inferred from them and enforced "
    "when scoring.",
)
def register(
    name: str,
    source: str,
    flavor: str | None,
    description: str,
    metrics: tuple[str, ...],
    tags: tuple[str, ...],
    example: str | None,
) -> None:
    """Register an artifact of a past run as the next version of model NAME."""
    parsed_metrics: dict[str, float] = {}
    for key, value in _pairs(metrics, "--metric").items():
        try:
            parsed_metrics[key] = float(value)
        except ValueError:
            output.fail(f"--metric {key}={value}: the value must be a number")
    version = _registry().register_from_artifact(
        name,
        source,
        flavor=flavor,
        description=description,
        metrics=parsed_metrics,
        tags=_pairs(tags, "--tag"),
        input_example=_input_example(example) if example else None,
    )
    output.console().print(
        output.text(f"registered {version.ref} ({version.flavor}) from {source}", "green")
    )


def _input_example(where: str) -> pandas.DataFrame:
    """A few rows from a file or from an artifact of a past run, as a data frame."""
    import pandas as pd

    path = Path(where)
    if path.suffix.lower() in {".parquet", ".pq", ".csv", ".json"}:
        if not path.is_file():
            output.fail(f"--input-example {where}: no such file")
        readers = {".csv": pd.read_csv, ".json": pd.read_json}
        frame = readers.get(path.suffix.lower(), pd.read_parquet)(path)
    else:
        from shipyard.client import Task
        from shipyard.registry.registry import parse_artifact_source

        flow, run, step, task, artifact = parse_artifact_source(where)
        frame = Task(f"{flow}/{run}/{step}/{task}")[artifact].data
    if not isinstance(frame, pd.DataFrame):
        output.fail(f"--input-example {where} holds a {type(frame).__name__}, not a data frame")
    return frame.head(100)


# -- listings ----------------------------------------------------------------------------


@models.command("list")
def list_models() -> None:
    """List registered models with their newest version and aliases."""
    from shipyard.exceptions import StoreNotFound

    console = output.console()
    try:
        found = _registry().list_models()
    except StoreNotFound as exc:
        console.print(output.text(f"no model is registered yet: {exc}", "dim"))
        return
    if not found:
        console.print(
            output.text("no model is registered yet; see `shipyard models register`", "dim")
        )
        return
    table = output.table("model", "latest", "aliases", "user", "created", "description")
    for model in found:
        table.add_row(
            output.text(model.name, "bold"),
            output.text(str(model.latest_version or "-")),
            output.text(_aliases_text(model.aliases)),
            output.text(model.user),
            output.text(output.when(model.created_at)),
            output.text(model.description),
        )
    console.print(table)


@models.command()
@click.argument("name")
def versions(name: str) -> None:
    """List the versions of model NAME, oldest first."""
    registry = _registry()
    aliases = registry.get_model(name).aliases
    table = output.table("version", "flavor", "aliases", "metrics", "source", "user", "created")
    for version in registry.versions(name):
        table.add_row(
            output.text(str(version.version), "bold"),
            output.text(version.flavor),
            output.text(", ".join(a for a, v in sorted(aliases.items()) if v == version.version)),
            output.text(_mapping_text(version.metrics)),
            output.text(version.lineage.task_pathspec if version.lineage else "-"),
            output.text(version.user),
            output.text(output.when(version.created_at)),
        )
    output.console().print(table)


@models.command()
@click.argument("ref")
def show(ref: str) -> None:
    """Show one version: flavor, signature, metrics, feature set, lineage, aliases, tags."""
    registry = _registry()
    version = registry.resolve(ref)
    aliases = registry.get_model(version.name).aliases
    rows = [
        ("version", output.text(version.ref, "bold")),
        ("flavor", output.text(version.flavor)),
        ("aliases", output.text(", ".join(a for a, v in aliases.items() if v == version.version))),
        ("created", output.text(f"{output.when(version.created_at)} by {version.user}")),
        ("description", output.text(version.description or "-")),
        ("tags", output.text(_mapping_text(version.tags) or "-")),
        ("metrics", output.text(_mapping_text(version.metrics) or "-")),
        ("signature", output.text(str(version.signature) if version.signature else "-")),
        ("payload", output.text(f"{version.payload_sha256} ({version.payload_size} bytes)")),
        ("saved with", output.text(_environment_text(version.environment) or "-")),
    ]
    if version.feature_set is not None:
        used = version.feature_set
        text = f"{used.name} version {used.version[:12]} (fitted state {used.sha256[:12]})"
        rows.append(("feature set", output.text(text)))
    if version.lineage is not None:
        lineage = version.lineage
        artifact = lineage.artifact_name or "(registered in the step)"
        rows += [
            ("task", output.text(lineage.task_pathspec)),
            ("artifact", output.text(f"{artifact} {lineage.artifact_sha256 or ''}".strip())),
            ("parameters", output.text(_mapping_text(lineage.parameters) or "-")),
            ("code", output.text(lineage.code_hash or "-")),
        ]
    else:
        rows.append(("lineage", output.text("registered outside a flow", "dim")))
    output.console().print(output.fields(rows))


def _environment_text(environment: Mapping[str, object]) -> str:
    libraries = environment.get("libraries") or {}
    parts = [f"Python {environment['python']}"] if environment.get("python") else []
    if isinstance(libraries, Mapping):
        parts += [f"{name} {release}" for name, release in sorted(libraries.items())]
    return ", ".join(parts)


# -- aliases -----------------------------------------------------------------------------


@models.command()
@click.argument("name")
@click.argument("alias")
@click.argument("version", type=click.IntRange(min=1))
def alias(name: str, alias: str, version: int) -> None:
    """Point NAME@ALIAS at VERSION (recorded in the alias's history)."""
    registry = _registry()
    before = registry.get_model(name).aliases.get(alias)
    registry.set_alias(name, alias, version)
    if before == version:
        message = output.text(f"{name}@{alias} already points at version {version}", "dim")
    else:
        moved = f"from {before} " if before is not None else ""
        message = output.text(f"{name}@{alias} moved {moved}to version {version}", "green")
    output.console().print(message)


@models.command()
@click.argument("name")
@click.argument("alias")
def unalias(name: str, alias: str) -> None:
    """Remove NAME@ALIAS (recorded in its history, so `rollback` can restore it)."""
    if _registry().delete_alias(name, alias) is None:
        message = output.text(f"{name}@{alias} is not set: nothing to remove", "dim")
    else:
        message = output.text(f"removed {name}@{alias}", "green")
    output.console().print(message)


@models.command()
@click.argument("name")
@click.argument("alias")
def rollback(name: str, alias: str) -> None:
    """Move NAME@ALIAS back to the version it pointed at before its last move."""
    version = _registry().rollback(name, alias)
    output.console().print(
        output.text(f"{name}@{alias} rolled back to version {version.version}", "green")
    )


@models.command()
@click.argument("name")
@click.argument("alias")
def history(name: str, alias: str) -> None:
    """Every move of NAME@ALIAS, oldest first: when, who, from and to."""
    events = _registry().alias_history(name, alias)
    if not events:
        output.fail(f"model {name!r} has no alias {alias!r} and never had")
    table = output.table("when", "user", "from", "to")
    for event in events:
        table.add_row(
            output.text(output.when(event.at)),
            output.text(event.user),
            output.text("-" if event.from_version is None else str(event.from_version)),
            output.text("(deleted)" if event.to_version is None else str(event.to_version)),
        )
    output.console().print(table)


# -- descriptions and tags ---------------------------------------------------------------


@models.command()
@click.argument("ref")
@click.argument("text")
def describe(ref: str, text: str) -> None:
    """Set the description of a model (NAME) or of a version (NAME/3, NAME@ALIAS)."""
    _registry().set_description(ref, text)
    output.console().print(output.text(f"described {ref}", "green"))


@models.command()
@click.argument("ref")
@click.argument("pairs", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--remove", "-r", "removed", multiple=True, metavar="KEY", help="Repeat.")
def tag(ref: str, pairs: tuple[str, ...], removed: tuple[str, ...]) -> None:
    """Set (KEY=VALUE) or remove (--remove KEY) tags of a model (NAME) or a version (NAME/3)."""
    from shipyard.registry import ModelRef

    registry = _registry()
    parsed = ModelRef.parse(ref)
    current: Mapping[str, str]
    if parsed.version is None and parsed.alias is None:
        current = registry.get_model(parsed.name).tags
    else:
        current = registry.resolve(parsed).tags
    tags = {**current, **_pairs(pairs, "KEY=VALUE")}
    for key in removed:
        tags.pop(key, None)
    registry.set_tags(parsed, tags)
    output.console().print(output.text(f"{ref}: {_mapping_text(tags) or 'no tags'}", "green"))


# -- helpers -----------------------------------------------------------------------------


def _pairs(items: Iterable[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` strings as a dict; a usage error names the one without '='."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            output.fail(f"{option} {item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value.strip()
    return pairs


def _mapping_text(values: Mapping[str, object]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(values.items()))


def _aliases_text(aliases: Mapping[str, int]) -> str:
    return ", ".join(f"{name}={version}" for name, version in sorted(aliases.items()))
