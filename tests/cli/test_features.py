"""`shipyard features materialize|status|check` against a real fact store and online store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from shipyard import facts
from shipyard.features.online import Mismatch, OnlineVectors, open_online_store

from ..conftest import Home
from ..features.online.featuresets import RANKER, days_ago, declare_plays, now, plays

FEATURESET = f"{Path(__file__).parents[1] / 'features' / 'online' / 'featuresets.py'}:RANKER"
MEAN = "plays_seconds_mean_30d"


def shipyard(*args: str) -> Result:
    from shipyard.cli.main import cli

    return CliRunner().invoke(cli, ["features", *args], env={"COLUMNS": "200"})


def test_check_finds_no_mismatch_after_materialize_and_reports_a_corrupted_value_exactly(
    home: Home,
) -> None:
    declare_plays()
    t = now()
    facts.ingest(
        "plays",
        plays(
            (1, days_ago(t, 1), 30.0, "comedy"),
            (2, days_ago(t, 2), 10.0, "drama"),
            (2, days_ago(t, 3), 20.0, None),
        ),
    )

    materialized = shipyard("materialize", FEATURESET)
    assert materialized.exit_code == 0, materialized.output
    assert "2 vectors as of" in materialized.stdout and "(full)" in materialized.stdout
    checked = shipyard("check", FEATURESET, "--sample", "10")
    assert checked.exit_code == 0, checked.output
    assert "2 vectors checked, 0 mismatches" in checked.stdout

    store = open_online_store()
    reader = OnlineVectors(store, RANKER.version)
    (stored,) = reader.lookup([2])
    assert stored is not None
    frame = reader.frame([2])
    frame.loc[2, MEAN] = 999.0
    store.write_vectors(
        RANKER.version, {"2": reader.codec.encode_frame(frame, stored.materialized_at)[0]}
    )

    assert RANKER.check_online(store).mismatches == (Mismatch(2, MEAN, 999.0, 15.0),)
    corrupted = shipyard("check", FEATURESET)
    assert corrupted.exit_code == 1
    assert "1 mismatches" in corrupted.stdout
    row = next(line for line in corrupted.stdout.splitlines() if MEAN in line)
    assert row.split() == ["2", MEAN, "999.0", "15.0"]


def test_status_shows_the_lag_and_fails_past_the_threshold(home: Home) -> None:
    declare_plays()
    written = facts.ingest("plays", plays((1, days_ago(now(), 1), 30.0, "comedy")))
    assert written is not None
    store = open_online_store()
    RANKER.materialize(store, at=written.recorded_at - timedelta(hours=1))  # an hour behind

    within = shipyard("status", "--max-lag", "2h")
    late = shipyard("status", "--max-lag", "30m")

    assert within.exit_code == 0, within.output
    row = next(line for line in within.stdout.splitlines() if "ranker_features" in line)
    assert RANKER.version[:12] in row and "1h 00m" in row
    assert late.exit_code == 1
    assert "lag over 30m: ranker_features" in late.output


def test_status_without_materializations_and_a_bad_featureset_say_so(home: Home) -> None:
    empty = shipyard("status")
    assert empty.exit_code == 0, empty.output
    assert "there is no online store at" in empty.stdout
    assert "holds no feature set yet" in empty.stdout
    assert not (home.root / "store" / "online.db").exists()  # a reader creates nothing
    missing = shipyard("materialize", f"{FEATURESET.split(':')[0]}:NOPE")
    assert missing.exit_code == 1
    assert "has no feature set named 'NOPE' (its feature sets: RANKER)" in missing.output
