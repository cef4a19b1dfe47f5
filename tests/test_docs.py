"""The docs name only what exists, and document what the commands offer."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click
from click.testing import CliRunner

from shipyard.cli.main import cli
from shipyard.registry import ModelRegistry
from shipyard.registry import models as models_module

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_model_registry_method_the_docs_name_exists() -> None:
    for page in DOCS:
        for name in re.findall(r"ModelRegistry\.(\w+)", page.read_text()):
            assert hasattr(ModelRegistry, name), f"{page.name}: ModelRegistry.{name}"


def test_models_md_maps_every_models_function_to_a_registry_method() -> None:
    text = (ROOT / "docs" / "models.md").read_text()
    rows = re.findall(r"^\| `models\.(\w+)\(.*?\)` \| `(\w+)\(", text, flags=re.MULTILINE)
    assert rows, "models.md has no table of models functions and ModelRegistry methods"
    renamed = dict(rows)
    for function, method in renamed.items():
        assert hasattr(models_module, function) and hasattr(ModelRegistry, method), function
    functions = {n for n in models_module.__all__ if inspect.isfunction(getattr(models_module, n))}
    for function in functions - {"registry"}:
        assert hasattr(ModelRegistry, renamed.get(function, function)), function


def test_every_option_of_the_shipyard_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    options = [opt for param in cli.params if isinstance(param, click.Option) for opt in param.opts]
    assert "--debug" in options
    for option in options:
        assert f"shipyard {option}" in readme, option


def test_attempt_numbering_is_documented_where_attempts_are_chosen() -> None:
    shown = CliRunner().invoke(cli, ["logs", "--help"], env={"COLUMNS": "200"})
    assert "attempts count from 0" in shown.output
    assert "attempts count from 0" in (ROOT / "README.md").read_text()
    assert "numbered from 0" in (ROOT / "docs" / "failures.md").read_text()
