"""Point-in-time training frames: each feature sees only the facts strictly before the
label's timestamp, inside its window, as recorded at the frame's `as_of`."""

from __future__ import annotations

import math
import pickle
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from shipyard import features
from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.blobs import BlobStore
from shipyard.datastore.serialization import serialize
from shipyard.features import FeatureDefinitionError, FeatureSet, TrainingFrameError, lineage_of

from .facts_files import PlaysTable, at


@pytest.fixture
def plays(tmp_path: Path) -> PlaysTable:
    return PlaysTable(tmp_path)


def labels(*rows: tuple[int, object]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["member_id", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["churned"] = [i % 2 == 0 for i in range(len(rows))]
    return frame


def build(fs: FeatureSet, plays: PlaysTable, rows: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    return fs.training_frame(rows, facts={"plays": plays.scan()}, as_of=at(31), **kwargs)  # type: ignore[arg-type]


LAST = FeatureSet("minutes", entity="member_id", features=[features.last("plays", "minutes")])


def test_a_fact_at_the_labels_timestamp_is_excluded_and_one_a_microsecond_before_included(
    plays: PlaysTable,
) -> None:
    plays.write([(1, at(5, micro=0), 10.0, "drama"), (1, at(5, micro=1), 20.0, "drama")],
                recorded_at=at(6))  # fmt: skip
    frame = build(LAST, plays, labels((1, at(5, micro=1)), (1, at(5, micro=2))))
    assert list(frame["plays_minutes_last_unbounded"]) == [10.0, 20.0]


def test_a_window_includes_its_start_and_excludes_the_label_instant(plays: PlaysTable) -> None:
    plays.write([(1, at(1), 1.0, "a"), (1, at(3), 2.0, "a"), (1, at(8), 4.0, "a")],
                recorded_at=at(9))  # fmt: skip
    fs = FeatureSet("w", entity="member_id", features=[
        features.sum("plays", "minutes", window="7d", name="sum_7d"),
        features.count("plays", window="7d", name="count_7d"),
    ])  # fmt: skip
    # At day 8: the week [1, 8) holds days 1 and 3; day 8 itself is the label's instant.
    # One microsecond later day 1 has left the window and day 8 has entered it.
    frame = build(fs, plays, labels((1, at(8)), (1, at(8, micro=1))))
    assert list(frame["sum_7d"]) == [3.0, 6.0]
    assert list(frame["count_7d"]) == [2, 2]


def test_every_label_row_is_kept_in_order_with_empty_values(plays: PlaysTable) -> None:
    plays.write([(1, at(3), 5.0, "a")], recorded_at=at(4))
    fs = FeatureSet("e", entity="member_id", features=[
        features.last("plays", "minutes", name="last"),
        features.count("plays", name="n"),
        features.count_distinct("plays", "genre", name="genres"),
        features.mean("plays", "minutes", name="avg"),
    ])  # fmt: skip
    rows = labels((2, at(10)), (1, at(2)), (1, at(10)), (2, at(1)), (1, at(10)))
    rows.index = [50, 40, 30, 20, 10]
    frame = build(fs, plays, rows)
    assert list(frame.index) == [50, 40, 30, 20, 10]
    assert list(frame["member_id"]) == [2, 1, 1, 2, 1]
    assert list(frame["n"]) == [0, 0, 1, 0, 1]
    assert list(frame["genres"]) == [0, 0, 1, 0, 1]
    assert [v if not math.isnan(v) else None for v in frame["last"]] == [None, None, 5.0, None, 5.0]
    assert frame["avg"].isna().tolist() == [True, True, False, True, False]
    assert list(frame["churned"]) == list(rows["churned"])


def test_a_filter_keeps_only_the_matching_facts(plays: PlaysTable) -> None:
    plays.write([(1, at(1), 1.0, "comedy"), (1, at(2), 2.0, "drama"), (1, at(3), 4.0, "comedy")],
                recorded_at=at(4))  # fmt: skip
    fs = FeatureSet("f", entity="member_id", features=[
        features.sum("plays", "minutes", where="genre = 'comedy'", name="comedy_minutes"),
        features.last("plays", "genre", where="minutes < 3", name="last_short_genre"),
    ])  # fmt: skip
    frame = build(fs, plays, labels((1, at(10))))
    assert frame["comedy_minutes"].tolist() == [5.0]
    assert frame["last_short_genre"].tolist() == ["drama"]


def test_a_restated_fact_replaces_the_earlier_version_from_its_recording_on(
    plays: PlaysTable,
) -> None:
    plays.write([(1, at(2), 10.0, "a")], recorded_at=at(3))
    plays.write([(1, at(2), 99.0, "a")], recorded_at=at(20))  # the restatement
    rows = labels((1, at(5)))
    column = "plays_minutes_last_unbounded"
    latest = LAST.training_frame(rows, facts={"plays": plays.scan()}, as_of=at(25))
    before = LAST.training_frame(rows, facts={"plays": plays.scan()}, as_of=at(10))
    assert latest[column].tolist() == [99.0]
    assert before[column].tolist() == [10.0]


def test_a_late_fact_is_seen_only_by_frames_as_of_after_its_recording(plays: PlaysTable) -> None:
    plays.write([(1, at(2), 1.0, "a")], recorded_at=at(3))
    plays.write([(1, at(4), 7.0, "a")], recorded_at=at(20))  # arrived two weeks late
    rows = labels((1, at(5)))
    column = "plays_minutes_last_unbounded"
    assert build(LAST, plays, rows)[column].tolist() == [7.0]
    as_of_10 = LAST.training_frame(rows, facts={"plays": plays.scan()}, as_of=at(10))
    assert as_of_10[column].tolist() == [1.0]


def test_without_as_of_the_frame_uses_the_scans_as_of_and_records_it(plays: PlaysTable) -> None:
    plays.write([(1, at(2), 1.0, "a")], recorded_at=at(3))
    plays.write([(1, at(4), 7.0, "a")], recorded_at=at(20))
    frame = LAST.training_frame(labels((1, at(5))), facts={"plays": plays.scan(as_of=at(10))})
    assert frame["plays_minutes_last_unbounded"].tolist() == [1.0]
    lineage = lineage_of(frame)
    assert (lineage.as_of, lineage.version, lineage.tables) == (at(10), LAST.version, ("plays",))


def test_a_resolver_is_asked_for_each_table_as_of_the_frame(plays: PlaysTable) -> None:
    plays.write([(1, at(2), 1.0, "a")], recorded_at=at(3))
    asked: list[tuple[str, object]] = []

    def resolve(table: str, as_of: object) -> object:
        asked.append((table, as_of))
        return plays.scan(as_of=at(12))

    frame = LAST.training_frame(labels((1, at(5))), facts=resolve, as_of=at(12))  # type: ignore[arg-type]
    assert asked == [("plays", at(12))]
    assert lineage_of(frame).as_of == at(12)


def test_rebuilding_with_the_same_inputs_is_byte_identical(plays: PlaysTable) -> None:
    for batch in range(3):
        plays.write([(m, at(1) + timedelta(hours=7 * i + batch), 0.1 * i + m, f"g{i % 3}")
                     for m in range(5) for i in range(20)], recorded_at=at(10 + batch))  # fmt: skip
    fs = FeatureSet("r", entity="member_id", features=[
        features.mean("plays", "minutes", window="2d"), features.sum("plays", "minutes"),
        features.count_distinct("plays", "genre", window="12h"),
    ])  # fmt: skip
    rows = labels(*[(m, at(2) + timedelta(hours=h)) for h in range(0, 200, 5) for m in range(6)])
    first, second = build(fs, plays, rows), build(fs, plays, rows)
    assert b"".join(serialize(first).chunks) == b"".join(serialize(second).chunks)
    assert lineage_of(pickle.loads(pickle.dumps(first))) == lineage_of(first)


def test_labels_need_the_entity_and_a_timestamp_column(plays: PlaysTable) -> None:
    plays.write([(1, at(2), 1.0, "a")], recorded_at=at(3))
    with pytest.raises(TrainingFrameError, match="no column 'when'"):
        build(LAST, plays, labels((1, at(5))), timestamp="when")


def test_every_table_the_set_reads_needs_facts(plays: PlaysTable) -> None:
    with pytest.raises(TrainingFrameError, match="no facts given for the table 'plays'"):
        LAST.training_frame(labels((1, at(5))), facts={}, as_of=at(5))


def test_a_scan_older_than_the_frame_is_refused(plays: PlaysTable) -> None:
    plays.write([(1, at(2), 1.0, "a")], recorded_at=at(3))
    with pytest.raises(TrainingFrameError, match="facts recorded in between would be missing"):
        LAST.training_frame(labels((1, at(5))), facts={"plays": plays.scan(at(4))}, as_of=at(9))


def test_a_frame_stored_as_an_artifact_keeps_its_values_and_lineage(
    plays: PlaysTable, tmp_path: Path
) -> None:
    plays.write([(1, at(2), 1.5, "a")], recorded_at=at(3))
    frame = build(LAST, plays, labels((1, at(5)), (2, at(5))))
    store = ArtifactStore(BlobStore(str(tmp_path / "store")))
    loaded = store.load(store.save(frame))
    pd.testing.assert_frame_equal(loaded, frame)
    assert lineage_of(loaded) == lineage_of(frame)


def test_a_filter_is_checked_against_the_scanned_tables_columns(plays: PlaysTable) -> None:
    plays.write([(1, at(2), 1.0, "a")], recorded_at=at(3))
    fs = FeatureSet("f", entity="member_id", features=[
        features.count("plays", where="mood = 'sad'", name="sad_plays"),
    ])  # fmt: skip
    with pytest.raises(FeatureDefinitionError, match="feature 'sad_plays': where="):
        build(fs, plays, labels((1, at(5))))


def test_a_table_nothing_was_written_to_gives_empty_values(plays: PlaysTable) -> None:
    fs = FeatureSet("e", entity="member_id", features=[
        features.count("plays", window="7d", name="n"), features.last("plays", "genre"),
        features.max("plays", "minutes", name="longest"),
    ])  # fmt: skip
    frame = build(fs, plays, labels((1, at(5)), (2, at(6))))
    assert frame["n"].tolist() == [0, 0]
    assert frame["plays_genre_last_unbounded"].isna().all() and frame["longest"].isna().all()


def test_naive_label_timestamps_are_utc(plays: PlaysTable) -> None:
    plays.write([(1, at(5), 1.0, "a")], recorded_at=at(6))
    naive = [at(5).replace(tzinfo=None), at(5, micro=1).replace(tzinfo=None)]
    rows = pd.DataFrame({"member_id": [1, 1], "timestamp": naive})
    frame = build(LAST, plays, rows)
    assert frame["plays_minutes_last_unbounded"].isna().tolist() == [True, False]


def test_a_memory_limit_changes_where_duckdb_works_not_the_answer(plays: PlaysTable) -> None:
    plays.write([(m, at(1) + timedelta(hours=i), float(i), "a") for m in range(20)
                 for i in range(50)], recorded_at=at(10))  # fmt: skip
    fs = FeatureSet("m", entity="member_id", features=[
        features.mean("plays", "minutes", window="1d"), features.count("plays"),
    ])  # fmt: skip
    rows = labels(*[(m, at(2) + timedelta(hours=h)) for m in range(20) for h in range(0, 40, 3)])
    limited = build(fs, plays, rows, memory_limit="64MB")
    pd.testing.assert_frame_equal(limited, build(fs, plays, rows))
    with pytest.raises(TrainingFrameError, match="cannot set DuckDB's memory limit to 'lots'"):
        build(fs, plays, rows, memory_limit="lots")
