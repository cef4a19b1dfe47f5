"""Specification of the registry: numbering, immutability, aliases, history, rollback, tags."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from shipyard.exceptions import ObjectNotFound, ShipyardError
from shipyard.registry import ModelRegistry, SignatureError

from ..waiting import Contenders, Span, assert_inside_at_once
from .custom_models import ThresholdModel

FRAME = pd.DataFrame({"x": [0.2, 0.8]})


def test_versions_are_numbered_from_one_per_model(registry: ModelRegistry) -> None:
    numbers = [registry.register("a", ThresholdModel(t)).version for t in (0.1, 0.2, 0.3)]
    other = registry.register("b", ThresholdModel(0.5)).version

    assert numbers == [1, 2, 3]
    assert other == 1
    assert [v.version for v in registry.versions("a")] == [1, 2, 3]


def test_a_version_records_who_what_and_when(registry: ModelRegistry) -> None:
    before = pd.Timestamp.now(tz="UTC")
    version = registry.register(
        "rule",
        ThresholdModel(0.5),
        input_example=FRAME,
        metrics={"auc": 0.91, "n": 3},
        description="first try",
        tags={"team": "search"},
    )

    assert registry.resolve("rule/1") == version
    assert (version.user, version.flavor, version.description) == ("alice", "python", "first try")
    assert version.metrics == {"auc": 0.91, "n": 3.0}
    assert version.tags == {"team": "search"}
    assert version.lineage is None  # registered outside a flow
    assert version.created_at >= before


def test_a_version_is_immutable_and_re_registering_makes_a_new_one(
    registry: ModelRegistry,
) -> None:
    first = registry.register("rule", ThresholdModel(0.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.payload_sha256 = "0" * 64  # type: ignore[misc]

    second = registry.register("rule", ThresholdModel(0.9))

    assert second.version == 2
    assert registry.resolve("rule/1") == first
    assert registry.load("rule/1").predict(FRAME) == [0, 1]
    assert registry.load("rule/2").predict(FRAME) == [0, 0]
    assert not any(name.startswith(("update", "replace")) for name in dir(registry))


def test_only_description_and_tags_of_a_version_change(registry: ModelRegistry) -> None:
    first = registry.register("rule", ThresholdModel(0.5))

    registry.set_description("rule/1", "the baseline")
    registry.set_tags("rule/1", {"stage": "review"})

    changed = registry.resolve("rule/1")
    assert (changed.description, changed.tags) == ("the baseline", {"stage": "review"})
    assert dataclasses.replace(changed, description="", tags={}) == first


def test_models_have_descriptions_and_tags_of_their_own(registry: ModelRegistry) -> None:
    registry.register("rule", ThresholdModel(0.5))

    registry.set_description("rule", "thresholds on x")
    registry.set_tags("rule", {"owner": "ml"})

    model = registry.get_model("rule")
    assert (model.description, model.tags) == ("thresholds on x", {"owner": "ml"})
    assert registry.resolve("rule").description == ""
    assert [m.name for m in registry.list_models()] == ["rule"]


def test_a_bare_name_resolves_to_the_newest_version(registry: ModelRegistry) -> None:
    registry.register("rule", ThresholdModel(0.5))
    registry.register("rule", ThresholdModel(0.6))

    assert registry.resolve("rule").version == 2


def test_unknown_models_versions_and_aliases_are_named(registry: ModelRegistry) -> None:
    with pytest.raises(ObjectNotFound, match="model 'nope' is not registered"):
        registry.resolve("nope")
    registry.register("rule", ThresholdModel(0.5))
    with pytest.raises(ObjectNotFound, match="has no version 7; its versions are 1"):
        registry.resolve("rule/7")
    with pytest.raises(ObjectNotFound, match="has no alias 'prod'; it has no aliases"):
        registry.resolve("rule@prod")


def test_an_alias_moves_and_its_history_says_who_when_from_and_to(
    registry: ModelRegistry,
) -> None:
    for threshold in (0.1, 0.2, 0.3):
        registry.register("rule", ThresholdModel(threshold))
    start = pd.Timestamp.now(tz="UTC")

    registry.set_alias("rule", "production", 1)
    assert registry.resolve("rule@production").version == 1
    registry.set_alias("rule", "production", 3)
    assert registry.resolve("rule@production").version == 3
    assert registry.get_model("rule").aliases == {"production": 3}

    history = registry.alias_history("rule", "production")
    assert [(e.from_version, e.to_version, e.user) for e in history] == [
        (None, 1, "alice"),
        (1, 3, "alice"),
    ]
    assert all(e.at >= start for e in history)
    assert history[0].at <= history[1].at


def test_rollback_moves_the_alias_back_and_is_recorded(registry: ModelRegistry) -> None:
    for threshold in (0.1, 0.2):
        registry.register("rule", ThresholdModel(threshold))
    registry.set_alias("rule", "production", 1)
    registry.set_alias("rule", "production", 2)

    restored = registry.rollback("rule", "production")

    assert restored.version == 1
    assert registry.resolve("rule@production").version == 1
    moves = [(e.from_version, e.to_version) for e in registry.alias_history("rule", "production")]
    assert moves == [(None, 1), (1, 2), (2, 1)]


def test_rollback_of_a_newly_created_alias_has_nowhere_to_go(registry: ModelRegistry) -> None:
    registry.register("rule", ThresholdModel(0.5))
    registry.set_alias("rule", "production", 1)

    with pytest.raises(ShipyardError, match="no earlier version to go back to"):
        registry.rollback("rule", "production")
    with pytest.raises(ObjectNotFound, match="has no alias 'staging'"):
        registry.rollback("rule", "staging")
    assert len(registry.alias_history("rule", "production")) == 1


def test_deleting_an_alias_is_recorded_and_can_be_rolled_back(registry: ModelRegistry) -> None:
    registry.register("rule", ThresholdModel(0.5))
    registry.set_alias("rule", "production", 1)

    registry.delete_alias("rule", "production")
    with pytest.raises(ObjectNotFound):
        registry.resolve("rule@production")
    assert registry.rollback("rule", "production").version == 1

    moves = [(e.from_version, e.to_version) for e in registry.alias_history("rule", "production")]
    assert moves == [(None, 1), (1, None), (None, 1)]


def test_a_name_ending_in_a_newline_is_refused_before_anything_is_stored(
    registry: ModelRegistry,
) -> None:
    with pytest.raises(ValueError, match=r"invalid model name 'ok\\n'"):
        registry.register("ok\n", ThresholdModel(0.5))
    registry.register("ok", ThresholdModel(0.5))
    with pytest.raises(ValueError, match=r"invalid alias 'prod\\n'"):
        registry.set_alias("ok", "prod\n", 1)

    assert [m.name for m in registry.list_models()] == ["ok"]
    assert registry.get_model("ok").aliases == {}


def test_removing_an_alias_that_is_not_set_says_so_and_records_nothing(
    registry: ModelRegistry,
) -> None:
    registry.register("rule", ThresholdModel(0.5))

    assert registry.delete_alias("rule", "production") is None
    assert registry.alias_history("rule", "production") == []
    with pytest.raises(ObjectNotFound, match="model 'nope' is not registered"):
        registry.delete_alias("nope", "production")


def test_pointing_an_alias_where_it_already_points_records_no_move(
    registry: ModelRegistry,
) -> None:
    for threshold in (0.1, 0.2):
        registry.register("rule", ThresholdModel(threshold))
    registry.set_alias("rule", "production", 1)
    registry.set_alias("rule", "production", 2)

    registry.set_alias("rule", "production", 2)

    moves = [(e.from_version, e.to_version) for e in registry.alias_history("rule", "production")]
    assert moves == [(None, 1), (1, 2)]
    assert registry.rollback("rule", "production").version == 1  # undoes the real move


def test_an_alias_to_a_missing_version_changes_nothing(registry: ModelRegistry) -> None:
    registry.register("rule", ThresholdModel(0.5))

    with pytest.raises(ObjectNotFound, match="has no version 4"):
        registry.set_alias("rule", "production", 4)
    assert registry.alias_history("rule", "production") == []


def test_loaded_models_enforce_their_signature(registry: ModelRegistry) -> None:
    registry.register("rule", ThresholdModel(0.5), input_example=FRAME)
    loaded = registry.load("rule")

    assert (loaded.name, loaded.version, loaded.flavor) == ("rule", 1, "python")
    assert loaded.predict(pd.DataFrame({"x": [1, 0]})) == [1, 0]  # integers become floats
    with pytest.raises(SignatureError, match="column 'x', row 0: 'high' is not a float"):
        loaded.predict(pd.DataFrame({"x": ["high"]}))


def test_metrics_must_be_numbers(registry: ModelRegistry) -> None:
    with pytest.raises(ShipyardError, match="metric 'auc' must be a number"):
        registry.register("rule", ThresholdModel(0.5), metrics={"auc": "good"})
    with pytest.raises(ObjectNotFound):
        registry.resolve("rule")  # nothing half-registered


def test_payload_blobs_are_never_garbage(registry: ModelRegistry) -> None:
    version = registry.register("rule", ThresholdModel(0.5))

    assert version.payload_sha256 in registry.metadata.referenced_hashes()


_REGISTER = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    from tests.registry.custom_models import ThresholdModel
    from shipyard.registry import models

    print("ready", flush=True); sys.stdin.readline()  # both register at once
    began = time.time()
    version = models.register("rule", ThresholdModel(0.5)).version
    print(json.dumps({"version": version, "span": [began, time.time()]}))
    """
)


def register_concurrently(env: dict[str, str], processes: int = 2) -> list[int]:
    """Versions that `processes` processes got registering the same model at the same moment.

    They are let go together once each has imported what it needs (torch, for the model
    class, takes seconds on a loaded machine), and must have been inside `register` at once.
    """
    root = str(Path(__file__).resolve().parents[2])
    command = [sys.executable, "-c", _REGISTER, root]
    with Contenders([command] * processes, env=env) as contenders:
        contenders.start()
        outputs = [json.loads(lines[-1]) for lines in contenders.results()]
    assert_inside_at_once([Span(*out["span"]) for out in outputs], "models.register")
    return sorted(out["version"] for out in outputs)


def test_two_processes_registering_at_once_get_versions_one_and_two(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = {
        **os.environ,
        "SHIPYARD_DATASTORE": str(store),
        "SHIPYARD_METADATA": f"sqlite:///{store / 'metadata.db'}",
        "SHIPYARD_USER": "alice",
        "SHIPYARD_CONFIG": str(tmp_path / "no-config.toml"),
    }

    assert register_concurrently(env) == [1, 2]
