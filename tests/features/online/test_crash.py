"""A materialization killed with SIGKILL half-way leaves every entity with its old vector or
its new one, never a mix, and the next run completes from the last complete watermark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd

from shipyard import facts
from shipyard.features.online import OnlineVectors, open_online_store

from ...conftest import Home
from .featuresets import RANKER, days_ago, declare_plays, labels_at, now, plays

MEMBERS = [1, 2, 3, 4, 5, 6]
FEATURES = [feature.name for feature in RANKER.features]


def test_a_killed_materialization_leaves_whole_vectors_and_the_rerun_completes(
    home: Home,
) -> None:
    url = f"sqlite:///{home.root / 'online.db'}"
    store = open_online_store(url)
    declare_plays()
    t = now()
    facts.ingest("plays", plays(*((m, days_ago(t, m), 10.0 * m, "drama") for m in MEMBERS)))
    old = RANKER.materialize(store)
    facts.ingest("plays", plays(*((m, days_ago(t, 0.1), 1.0 + m, "comedy") for m in MEMBERS)))

    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "materialize_and_hang.py"), url],
        env=home.env,
        cwd=home.root,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    announced = child.stdout.readline()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert announced.startswith("written 2 of 6"), announced

    record = store.get_version(RANKER.version)
    assert record is not None and record.watermark == old.as_of  # the killed run never finished
    stored = OnlineVectors(store, RANKER.version).lookup(MEMBERS)
    moments = sorted({vector.materialized_at for vector in stored if vector is not None})
    assert len(moments) == 2 and moments[0] == old.as_of  # some old vectors, some new
    offline = {  # every member's values as of each run's moment
        moment: RANKER.training_frame(labels_at(MEMBERS, moment), as_of=moment)[FEATURES]
        for moment in moments
    }
    online = OnlineVectors(store, RANKER.version).frame(MEMBERS).reset_index(drop=True)
    for row, vector in enumerate(stored):  # entity by entity: whole, from the run its time says
        assert vector is not None
        pd.testing.assert_series_equal(
            online.iloc[row], offline[vector.materialized_at].iloc[row], check_dtype=False
        )

    rerun = RANKER.materialize(store)

    assert (rerun.since, rerun.written) == (old.as_of, len(MEMBERS))
    assert {
        v.materialized_at for v in OnlineVectors(store, RANKER.version).lookup(MEMBERS) if v
    } == {rerun.as_of}
    assert RANKER.check_online(store).mismatches == ()
