"""A vector's bytes: every kind of value and null round-trips, with its materialization time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from shipyard.features.online import FeatureColumn, OnlineStoreError, VectorCodec, entity_key

COLUMNS = (
    FeatureColumn("plays", "int64", 0),
    FeatureColumn("minutes", "double"),
    FeatureColumn("genre", "string"),
    FeatureColumn("premium", "bool"),
    FeatureColumn("last_seen", "timestamp[us, tz=UTC]"),
    FeatureColumn("joined", "date32[day]"),
    FeatureColumn("rating", "int32"),
)
AT = datetime(2026, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)


def test_every_kind_and_null_round_trips_with_the_materialization_time() -> None:
    codec = VectorCodec(COLUMNS)
    frame = pd.DataFrame(
        {
            "plays": [3, 0],
            "minutes": [12.5, None],
            "genre": ["comédie", None],
            "premium": [True, None],
            "last_seen": pd.to_datetime(["2026-02-28 10:00:00.000001", None], utc=True),
            "joined": [date(2025, 1, 31), None],
            "rating": [None, 4.0],  # an integer feature with a null is float in a frame
        }
    )

    first, second = (codec.decode(data) for data in codec.encode_frame(frame, AT))

    assert first.materialized_at == AT == second.materialized_at
    assert first.values == [
        3,
        12.5,
        "comédie",
        True,
        1772272800000001,  # microseconds since the epoch
        20119,  # days since the epoch
        None,
    ]
    assert second.values == [0, None, None, None, None, None, 4]


def test_decoded_rows_get_the_dtypes_of_a_training_frame() -> None:
    codec = VectorCodec(COLUMNS)
    rows = [codec.decode(data).values for data in codec.encode_frame(_one_row(), AT)]
    frame = codec.frame([*rows, codec.empty_values()], pd.Index([7, 8], name="member_id"))

    assert frame.index.tolist() == [7, 8]
    assert frame["plays"].tolist() == [3, 0]  # the empty value of a count
    assert str(frame["plays"].dtype) == "int64"
    assert str(frame["minutes"].dtype) == "float64"
    assert frame["last_seen"].iloc[0] == pd.Timestamp("2026-02-28 10:00", tz="UTC")
    assert frame["genre"].iloc[0] == "drama"
    assert pd.isna(frame["genre"].iloc[1])


def test_a_vector_is_compact() -> None:
    codec = VectorCodec(COLUMNS[:2])
    (data,) = codec.encode_frame(pd.DataFrame({"plays": [3], "minutes": [1.5]}), AT)
    assert len(data) == 1 + 8 + 1 + 8 + 8  # format, time, null bitmap, two numbers


def test_integer_ids_are_one_key_whatever_their_python_type() -> None:
    import numpy as np

    assert entity_key(42, "int64") == entity_key("42", "int64") == entity_key(np.int64(42), "int64")
    assert entity_key("m-42", "string") == "m-42"
    with pytest.raises(OnlineStoreError, match="not an integer"):
        entity_key("m-42", "int64")


def test_a_type_the_store_cannot_hold_is_refused_naming_it() -> None:
    with pytest.raises(OnlineStoreError, match="list<item: int64>"):
        VectorCodec([FeatureColumn("tags", "list<item: int64>")])


def _one_row() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "plays": [3],
            "minutes": [1.0],
            "genre": ["drama"],
            "premium": [False],
            "last_seen": pd.to_datetime(["2026-02-28 10:00"], utc=True),
            "joined": [date(2025, 1, 31)],
            "rating": [5],
        }
    )
