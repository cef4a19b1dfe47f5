"""Encoders learn a small state on a training frame and apply it the same way afterwards;
the fitted state round-trips through canonical JSON and is addressed by its content."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from shipyard import features
from shipyard.features import EncoderError, FeatureDefinitionError, FeatureSet, FittedFeatureSet

MINUTES = features.mean("plays", "minutes", window="30d", name="minutes")
GENRE = features.last("plays", "genre", name="genre")
PLAYS = features.count("plays", name="plays")


def encoded(**encoders: object) -> FeatureSet:
    return FeatureSet("ranker", entity="member_id", features=[MINUTES, GENRE, PLAYS],
                      encoders=encoders)  # type: ignore[arg-type]  # fmt: skip


TRAIN = pd.DataFrame({
    "member_id": [1, 2, 3, 4, 5],
    "minutes": [1.0, 2.0, 3.0, None, 4.0],
    "genre": ["comedy", "drama", "comedy", None, "horror"],
    "plays": [0, 1, 3, 7, 15],
    "label": [0, 1, 0, 1, 1],
})  # fmt: skip
LATER = pd.DataFrame({
    "member_id": [9, 8],
    "minutes": [6.0, None],
    "genre": ["western", "comedy"],
    "plays": [2, 100],
    "label": [1, 0],
})  # fmt: skip


def test_standardize_scales_with_the_training_mean_and_std() -> None:
    fitted = encoded(minutes=features.standardize()).fit(TRAIN)
    [(_, state)] = fitted.encoders["minutes"]
    assert state == {"mean": 2.5, "std": math.sqrt(1.25)}
    out = fitted.transform(LATER)
    assert out["minutes"].iloc[0] == pytest.approx((6.0 - 2.5) / math.sqrt(1.25))
    assert math.isnan(out["minutes"].iloc[1])
    assert list(out.columns) == list(LATER.columns)


def test_category_freezes_the_vocabulary_with_an_explicit_unknown_bucket() -> None:
    fitted = encoded(genre=features.category()).fit(TRAIN)
    assert fitted.encoders["genre"][0][1] == {"vocabulary": ["comedy", "drama", "horror"]}
    assert fitted.transform(TRAIN)["genre"].tolist() == [1, 2, 1, 0, 3]
    assert fitted.transform(LATER)["genre"].tolist() == [0, 1]  # western was never seen


def test_one_hot_makes_a_column_per_value_plus_unknown_in_place_of_the_column() -> None:
    fitted = encoded(genre=features.one_hot(max_categories=2)).fit(TRAIN)
    out = fitted.transform(LATER)
    assert list(out.columns) == [
        "member_id", "minutes", "genre=comedy", "genre=drama", "genre__unknown", "plays", "label",
    ]  # fmt: skip
    assert out[["genre=comedy", "genre=drama", "genre__unknown"]].values.tolist() == [
        [0, 0, 1], [1, 0, 0],
    ]  # fmt: skip


def test_a_chain_fits_each_step_on_the_output_of_the_one_before() -> None:
    fitted = encoded(
        minutes=[features.fill_missing("median"), features.standardize()],
        plays=[features.log1p(), features.bucketize(edges=[1.0, 2.0])],
    ).fit(TRAIN)
    (_, fill_state), (_, scale_state) = fitted.encoders["minutes"]
    assert fill_state == {"value": 2.5}
    assert scale_state["mean"] == pytest.approx(2.5)  # measured after filling
    out = fitted.transform(LATER)
    assert out["minutes"].isna().sum() == 0
    assert out["plays"].tolist() == [1, 2]  # log1p(2) = 1.1 and log1p(100) = 4.6


def test_bucketize_learns_quantile_edges_and_puts_nulls_in_bucket_minus_one() -> None:
    fitted = encoded(minutes=features.bucketize(quantiles=2)).fit(TRAIN)
    assert fitted.encoders["minutes"][0][1] == {"edges": [2.5]}
    assert fitted.transform(TRAIN)["minutes"].tolist() == [0, 0, 1, -1, 1]


def test_fitted_state_round_trips_through_canonical_json_with_the_same_digest() -> None:
    fs = encoded(
        minutes=[features.fill_missing(value=0.0), features.standardize()],
        genre=features.one_hot(), plays=features.bucketize(quantiles=3),
    )  # fmt: skip
    fitted = fs.fit(TRAIN)
    again = FittedFeatureSet.loads(fitted.dumps())
    assert again == fitted
    assert again.digest == fitted.digest == fs.fit(TRAIN).digest
    assert (again.feature_set, again.version) == ("ranker", fs.version)
    pd.testing.assert_frame_equal(again.transform(LATER), fitted.transform(LATER))


def test_other_training_data_is_other_fitted_state() -> None:
    fs = encoded(minutes=features.standardize())
    assert fs.fit(TRAIN).digest != fs.fit(LATER).digest


def test_an_encoder_change_is_a_new_feature_set_version() -> None:
    assert encoded(minutes=features.standardize()).version != encoded().version
    assert (
        encoded(plays=features.bucketize(quantiles=4)).version
        != encoded(plays=features.bucketize(quantiles=5)).version
    )


def test_encoders_must_name_features_and_expand_only_last() -> None:
    with pytest.raises(FeatureDefinitionError, match="not one of its features"):
        encoded(label=features.standardize())
    with pytest.raises(FeatureDefinitionError, match="only the last may make several columns"):
        encoded(genre=[features.one_hot(), features.category()])


@pytest.mark.parametrize(
    "declare",
    [
        lambda: features.bucketize(),
        lambda: features.bucketize(quantiles=4, edges=[1.0]),
        lambda: features.bucketize(edges=[2.0, 1.0]),
        lambda: features.category(max_categories=0),
        lambda: features.fill_missing("mode"),
    ],
)
def test_bad_encoder_parameters_are_refused_at_declaration(declare: object) -> None:
    with pytest.raises(FeatureDefinitionError):
        declare()  # type: ignore[operator]


def test_numeric_encoders_refuse_text_columns() -> None:
    with pytest.raises(EncoderError, match="not numbers; encode it with category"):
        encoded(genre=features.standardize()).fit(TRAIN)


def test_fill_missing_cannot_learn_from_an_all_null_column() -> None:
    with pytest.raises(EncoderError, match="all null; use fill_missing"):
        encoded(minutes=features.fill_missing()).fit(TRAIN.assign(minutes=None))


def test_transform_keeps_the_frames_lineage() -> None:
    frame = TRAIN.copy()
    frame.attrs["shipyard.training_frame"] = {"feature_set": "ranker"}
    out = encoded(minutes=features.standardize()).fit(frame).transform(frame)
    assert out.attrs == frame.attrs
