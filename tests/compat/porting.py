"""Scripts written for Metaflow, moved over the way a user would: by the import line alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..conftest import Home

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


def run_script(
    home: Home, script: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a ported client script in the test's home, as a user's notebook would."""
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=home.env if env is None else env,
        cwd=home.root,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
