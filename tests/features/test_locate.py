"""How a command line names a feature set: a file or a module, and the variable holding it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.features import FeatureDefinitionError
from shipyard.features.locate import load_feature_set

from .online.featuresets import RANKER

FILE = Path(__file__).parent / "online" / "featuresets.py"


def test_a_file_or_a_module_names_the_feature_set_with_or_without_its_variable() -> None:
    for spec in (f"{FILE}:RANKER", str(FILE), "tests.features.online.featuresets:RANKER"):
        assert load_feature_set(spec).version == RANKER.version, spec


def test_a_name_that_is_not_there_lists_what_is(tmp_path: Path) -> None:
    with pytest.raises(FeatureDefinitionError, match=r"its feature sets: RANKER"):
        load_feature_set(f"{FILE}:ranker")
    empty = tmp_path / "nothing.py"
    empty.write_text("X = 1\n")
    with pytest.raises(FeatureDefinitionError, match="defines 0 feature sets"):
        load_feature_set(str(empty))
    with pytest.raises(FeatureDefinitionError, match="there is no file"):
        load_feature_set(str(tmp_path / "missing.py"))
    with pytest.raises(FeatureDefinitionError, match="cannot import 'no_such_module'"):
        load_feature_set("no_such_module:X")
