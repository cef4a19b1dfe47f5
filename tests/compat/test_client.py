"""Metaflow's client API over a real run: every object's identity, tags, times, logs,
lineage and artifacts, as a notebook written for Metaflow reads them."""

from __future__ import annotations

from ..conftest import Home
from .porting import SOURCES, ported, run_script


def test_the_documented_client_api_reads_a_run_after_changing_the_import(home: Home) -> None:
    flow = ported(SOURCES / "mf_tour_flow.py", home.root)
    client = ported(SOURCES / "mf_client_tour.py", home.root)
    done = home.run_flow(flow, "run", "--tag", "nightly")
    assert done.returncode == 0, done.stderr
    # Without SHIPYARD_DATASTORE/METADATA: the script finds the store with metadata(...).
    hidden = ("SHIPYARD_DATASTORE", "SHIPYARD_METADATA")
    env = {key: value for key, value in home.env.items() if key not in hidden}
    store = home.env["SHIPYARD_DATASTORE"]
    checked = run_script(home, client, store, env=env)
    assert checked.returncode == 0, checked.stderr
    assert "client tour ok TourFlow/" in checked.stdout
