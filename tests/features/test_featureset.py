"""A feature set is named and versioned by the content of its definition."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shipyard import features
from shipyard.features import FeatureDefinitionError, FeatureSet


def ranker(*extra: features.Feature, window: str = "30d") -> FeatureSet:
    return FeatureSet("ranker_features", entity="member_id", features=[
        features.last("plays", "minutes"),
        features.mean("plays", "minutes", window=window),
        *extra,
    ])  # fmt: skip


def test_the_same_definition_is_the_same_version() -> None:
    assert ranker().version == ranker().version
    assert len(ranker().version) == 64


@pytest.mark.parametrize(
    "changed",
    [
        ranker(window="7d"),
        ranker(features.count("plays")),
        ranker(features.count("plays", where="genre = 'comedy'")),
        FeatureSet("other", entity="member_id", features=ranker().features),
        FeatureSet("ranker_features", entity="profile_id", features=ranker().features),
    ],
)
def test_a_changed_definition_is_a_new_version(changed: FeatureSet) -> None:
    assert changed.version != ranker().version


def test_two_features_may_not_share_a_name() -> None:
    with pytest.raises(FeatureDefinitionError, match="two features named 'n'"):
        FeatureSet("s", entity="member_id", features=[
            features.count("plays", name="n"), features.count("clicks", name="n"),
        ])  # fmt: skip


def test_a_feature_set_needs_features_and_a_usable_name() -> None:
    with pytest.raises(FeatureDefinitionError, match="has no features"):
        FeatureSet("s", entity="member_id", features=[])
    with pytest.raises(FeatureDefinitionError, match="bad feature set name"):
        FeatureSet("a b", entity="member_id", features=[features.count("plays")])


def test_declaring_features_imports_no_data_library() -> None:
    code = (
        "import sys\nfrom shipyard import features\n"
        "features.FeatureSet('s', entity='m', features=[features.count('plays')],"
        " encoders={'plays_facts_count_unbounded': features.log1p()}).version\n"
        "print(sorted({'duckdb', 'numpy', 'pandas', 'pyarrow'} & set(sys.modules)))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
