"""Materialization: the vectors written are the training frame's values at that moment, an
incremental run rewrites exactly the entities that may have changed, and the vectors read
back for scoring are encoded like the training frame."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from shipyard import facts
from shipyard.features.online import NotMaterialized, OnlineStore, OnlineStoreError, OnlineVectors

from ...conftest import Home
from ...waiting import wait_for
from .featuresets import RANKER, days_ago, declare_plays, labels_at, now, plays

FEATURES = [feature.name for feature in RANKER.features]


def test_online_vectors_are_the_training_frame_at_the_materialization_moment(
    home: Home, online_store: OnlineStore
) -> None:
    declare_plays()
    t = now()
    facts.ingest(
        "plays",
        plays(
            (1, days_ago(t, 1), 30.0, "comedy"),
            (1, days_ago(t, 10), 60.0, "drama"),
            (1, days_ago(t, 40), 5.0, "comedy"),  # outside every bounded window
            (2, days_ago(t, 2), None, "drama"),  # a null value
            (3, days_ago(t, 100), 7.0, None),
        ),
    )
    training = RANKER.training_frame(
        pd.concat([labels_at([1, 2, 3], days_ago(t, d)) for d in (0, 3, 20)], ignore_index=True)
    )
    fitted = RANKER.fit(training)

    done = RANKER.materialize(online_store)

    assert (done.full, done.written, done.since) == (True, 3, None)
    members = [3, 1, 99, 2]  # 99 has no facts at all
    offline = RANKER.training_frame(labels_at(members, done.as_of), as_of=done.as_of)
    expected = fitted.transform(offline[FEATURES]).set_axis(pd.Index(members, name="member_id"))
    online = fitted.online_vectors(members, online_store)
    pd.testing.assert_frame_equal(online, expected, check_dtype=False)
    pd.testing.assert_frame_equal(
        fitted.online_vector(99, online_store), expected.loc[[99]], check_dtype=False
    )
    assert RANKER.check_online(online_store, fitted=fitted).mismatches == ()


def test_an_incremental_run_rewrites_only_new_late_restated_and_window_moved_entities(
    home: Home,
) -> None:
    from shipyard.features.online import open_online_store

    store = open_online_store(f"sqlite:///{home.root / 'online.db'}")
    declare_plays()
    t = now()
    margin = timedelta(seconds=2)
    first = facts.ingest(
        "plays",
        plays(
            (1, days_ago(t, 7) + margin, 10.0, "drama"),  # leaves the 7d window by the 2nd run
            (2, days_ago(t, 1), 20.0, "drama"),
            (3, days_ago(t, 20), 30.0, "comedy"),
            (5, days_ago(t, 3), 50.0, "comedy"),
        ),
    )
    assert first is not None
    assert RANKER.materialize(store, at=first.recorded_at).written == 4
    facts.ingest(
        "plays",
        plays(
            (2, days_ago(t, 2), 25.0, "comedy"),  # late: an old event time, recorded now
            (3, days_ago(t, 20), 33.0, "comedy"),  # restates member 3's play
            (4, days_ago(t, 0.5), 40.0, None),  # a new member
        ),
    )
    wait_for(lambda: now() > t + margin, timeout=10, what="member 1's play leaving 7 days")

    done = RANKER.materialize(store)

    assert (done.full, done.since, done.written) == (False, first.recorded_at, 4)
    stored = OnlineVectors(store, RANKER.version).lookup([1, 2, 3, 4, 5])
    assert [v.materialized_at if v else None for v in stored] == [done.as_of] * 4 + [
        first.recorded_at
    ]
    members = [1, 2, 3, 4, 5]
    offline = RANKER.training_frame(labels_at(members, done.as_of), as_of=done.as_of)
    online = OnlineVectors(store, RANKER.version).frame(members)
    pd.testing.assert_frame_equal(
        online.reset_index(drop=True), offline[FEATURES], check_dtype=False
    )
    assert online.loc[1, "plays_facts_count_7d"] == 0
    assert RANKER.check_online(store).mismatches == ()
    assert RANKER.materialize(store, full=True).written == 5


def test_an_incremental_run_after_a_compaction_rewrites_exactly_the_new_facts_entities(
    home: Home,
) -> None:
    """A compacted file holds facts from before and after the watermark: its new facts still
    name their entities, and its old ones still count."""
    from shipyard.features.online import open_online_store

    store = open_online_store(f"sqlite:///{home.root / 'online.db'}")
    declare_plays()
    t = now()
    facts.ingest(
        "plays", plays((1, days_ago(t, 3), 10.0, "drama"), (2, days_ago(t, 2), 20.0, "drama"))
    )
    first = RANKER.materialize(store)
    facts.ingest(
        "plays",
        plays((2, days_ago(t, 1.5), 25.0, "comedy"), (3, days_ago(t, 1), 30.0, "comedy")),
    )
    assert len(facts.compact("plays").merged) == 2

    done = RANKER.materialize(store)

    assert (done.full, done.since, done.written) == (False, first.as_of, 2)
    stored = OnlineVectors(store, RANKER.version).lookup([1, 2, 3])
    assert [v.materialized_at if v else None for v in stored] == [first.as_of, *[done.as_of] * 2]
    online = OnlineVectors(store, RANKER.version).frame([2])
    assert online.loc[2, "plays_facts_count_7d"] == 2  # the old play, from the compacted file
    assert RANKER.check_online(store).mismatches == ()


def test_a_watermark_never_goes_back_and_never_runs_ahead(home: Home) -> None:
    from shipyard.features.online import open_online_store

    store = open_online_store(f"sqlite:///{home.root / 'online.db'}")
    declare_plays()
    facts.ingest("plays", plays((1, days_ago(now(), 1), 1.0, "drama")))
    done = RANKER.materialize(store)
    with pytest.raises(OnlineStoreError, match="a watermark never goes back"):
        RANKER.materialize(store, at=done.as_of - timedelta(seconds=1))
    with pytest.raises(OnlineStoreError, match="in the future"):
        RANKER.materialize(store, at=now() + timedelta(hours=1))


def test_a_version_never_materialized_is_refused_saying_what_to_run(home: Home) -> None:
    from shipyard.features.online import open_online_store

    store = open_online_store(f"sqlite:///{home.root / 'online.db'}")
    declare_plays()
    facts.ingest("plays", plays((1, days_ago(now(), 1), 1.0, "drama")))
    fitted = RANKER.fit(RANKER.training_frame(labels_at([1], now())))
    with pytest.raises(NotMaterialized, match="shipyard features materialize"):
        fitted.online_vectors([1], store)


def test_a_table_without_facts_materializes_nothing_and_serves_empty_values(home: Home) -> None:
    from shipyard.features.online import open_online_store

    store = open_online_store(f"sqlite:///{home.root / 'online.db'}")
    declare_plays()

    done = RANKER.materialize(store)

    assert (done.written, store.count(RANKER.version)) == (0, 0)
    empty = OnlineVectors(store, RANKER.version).frame([1])
    assert empty.loc[1, "plays_facts_count_7d"] == 0 and empty.loc[1, "comedies"] == 0
    assert pd.isna(empty.loc[1, "plays_seconds_last_unbounded"])
