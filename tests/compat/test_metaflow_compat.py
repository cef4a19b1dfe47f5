"""A flow and client script written for Metaflow run unchanged but for the import line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import Home

#: The local executor must behave alike whichever way it starts tasks.
pytestmark = pytest.mark.usefixtures("each_start_method")

SOURCES = Path(__file__).parent / "metaflow_flows"


def ported(source: Path, target_dir: Path) -> Path:
    """Copy a Metaflow script, changing only `from metaflow import` to `from shipyard import`."""
    lines = source.read_text().splitlines(keepends=True)
    changed = [
        line.replace("from metaflow import", "from shipyard import", 1)
        if line.startswith("from metaflow import")
        else line
        for line in lines
    ]
    assert sum(a != b for a, b in zip(lines, changed, strict=True)) == 1
    target = target_dir / source.name
    target.write_text("".join(changed))
    return target


def test_metaflow_flow_and_client_run_after_changing_the_import(home: Home):
    flow = ported(SOURCES / "mf_showcase.py", home.root)
    client = ported(SOURCES / "mf_client.py", home.root)
    done = home.run_flow(flow, "run", "--label", "demo")
    assert done.returncode == 0, done.stderr
    checked = subprocess.run(
        [sys.executable, str(client)],
        env=home.env,
        cwd=home.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "client ok ShowcaseFlow/" in checked.stdout
