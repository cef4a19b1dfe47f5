"""A flow and client script written for Metaflow run unchanged but for the import line."""

from __future__ import annotations

import pytest

from ..conftest import Home
from .porting import SOURCES, ported, run_script

#: The local executor must behave alike whichever way it starts tasks.
pytestmark = pytest.mark.usefixtures("each_start_method")


def test_metaflow_flow_and_client_run_after_changing_the_import(home: Home):
    flow = ported(SOURCES / "mf_showcase.py", home.root)
    client = ported(SOURCES / "mf_client.py", home.root)
    done = home.run_flow(flow, "run", "--label", "demo")
    assert done.returncode == 0, done.stderr
    checked = run_script(home, client)
    assert checked.returncode == 0, checked.stderr
    assert "client ok ShowcaseFlow/" in checked.stdout
