"""The NumPy encoding of online vectors gives exactly what `FittedFeatureSet.transform` gives
the same vectors as a frame: every encoder, nulls, unknown values and empty vectors."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from shipyard.features import bucketize, category, fill_missing, log1p, one_hot, standardize
from shipyard.features.encoders import Encoder
from shipyard.features.errors import EncoderError
from shipyard.features.fitted import FittedFeatureSet
from shipyard.features.online import FeatureColumn, VectorCodec
from shipyard.features.online.encoding import VectorEncoder

COLUMNS = (
    FeatureColumn("seconds", "double"),
    FeatureColumn("plays", "int64", 0),
    FeatureColumn("minutes", "double"),
    FeatureColumn("genre", "string"),
    FeatureColumn("mood", "string"),
    FeatureColumn("rating", "int64"),
    FeatureColumn("subscribed", "bool"),
    FeatureColumn("country", "string"),
    FeatureColumn("score", "double"),
)
ENCODERS: dict[str, list[Encoder]] = {
    "seconds": [fill_missing("median"), standardize()],
    "plays": [log1p()],
    "minutes": [bucketize(quantiles=3)],
    "genre": [one_hot()],
    "mood": [category()],
    "rating": [fill_missing(value=3), category()],
    "country": [fill_missing(value="nowhere")],
}
TRAINING = [
    [30.0, 1, 2.0, "comedy", "calm", 5, True, "fr", 0.5],
    [60.0, 4, 9.0, "drama", "calm", 4, False, "de", 1.5],
    [None, 2, 4.0, "comedy", "loud", None, True, None, None],
    [12.5, 7, 1.0, "horror", None, 5, None, "fr", 2.0],
]
#: Nulls, values never seen in training (unknown genre and mood), and the empty vector.
SERVED = [
    [45.0, 3, 3.0, "drama", "loud", 4, True, "fr", 1.0],
    [None, 0, None, None, None, None, None, None, None],
    [1.0, 9, 100.0, "western", "tense", 7, False, "it", -3.0],
    [c.empty for c in COLUMNS],
]


def _fitted(columns: tuple[FeatureColumn, ...], training: list[list[Any]]) -> FittedFeatureSet:
    frame = VectorCodec(columns).frame(training, pd.RangeIndex(len(training)))
    chains = {}
    for name, encoders in ENCODERS.items():
        values, chain = frame[name], []
        for encoder in encoders:
            state = encoder.fit(values)
            chain.append((encoder, state))
            values = encoder.transform(values, state)
        chains[name] = tuple(chain)
    return FittedFeatureSet("ranker", "v1", chains)


@pytest.fixture(scope="module")
def fitted() -> FittedFeatureSet:
    return _fitted(COLUMNS, TRAINING)


def _same(left: list[tuple[Any, ...]], right: list[tuple[Any, ...]]) -> bool:
    """Rows equal value by value and type by type, NaN equal to NaN."""

    def cell(value: Any) -> Any:
        return ("nan",) if isinstance(value, float) and math.isnan(value) else value

    return [[(type(v), cell(v)) for v in row] for row in left] == [
        [(type(v), cell(v)) for v in row] for row in right
    ]


@pytest.mark.parametrize("rows", [SERVED, *([row] for row in SERVED)], ids=range(5))
def test_numpy_encoding_equals_the_frame_transform(
    fitted: FittedFeatureSet, rows: list[list[Any]]
) -> None:
    codec = VectorCodec(COLUMNS)
    expected = fitted.transform(codec.frame(rows, pd.RangeIndex(len(rows))))

    encoded = VectorEncoder(fitted, codec).encode(rows)

    assert encoded.names == [str(name) for name in expected.columns]
    assert _same(encoded.rows(), list(expected.itertuples(index=False, name=None)))
    pd.testing.assert_frame_equal(
        encoded.frame(expected.index), expected, check_dtype=False, check_column_type=False
    )


def test_stored_bytes_encode_like_the_frame_they_decode_to(fitted: FittedFeatureSet) -> None:
    codec = VectorCodec(COLUMNS)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    stored = codec.encode_frame(codec.frame(SERVED, pd.RangeIndex(len(SERVED))), moment)
    decoded = [codec.decode(data).values for data in stored]

    assert _same(
        VectorEncoder(fitted, codec).encode(decoded).rows(),
        list(
            fitted.transform(codec.frame(decoded, pd.RangeIndex(len(decoded)))).itertuples(
                index=False, name=None
            )
        ),
    )


def test_a_version_with_times_is_encoded_through_the_frame(fitted: FittedFeatureSet) -> None:
    columns = (*COLUMNS, FeatureColumn("last_seen", "timestamp[us, tz=UTC]"))
    seen = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [[*row, seen] for row in SERVED]
    codec = VectorCodec(columns)
    expected = fitted.transform(codec.frame(rows, pd.RangeIndex(len(rows))))

    encoded = VectorEncoder(fitted, codec).encode(rows)

    assert encoded.names == list(expected.columns)
    assert _same(encoded.rows(), list(expected.itertuples(index=False, name=None)))


def test_a_numeric_encoder_on_text_fails_as_in_the_frame() -> None:
    columns = (FeatureColumn("genre", "string"),)
    fitted = FittedFeatureSet("ranker", "v1", {"genre": ((standardize(), {"mean": 0, "std": 1}),)})

    with pytest.raises(EncoderError, match="not numbers"):
        VectorEncoder(fitted, VectorCodec(columns)).encode([["comedy"]])
