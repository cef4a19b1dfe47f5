"""The Feast repository both Feast peers build (peer side, in `.venv-feast`): a local
provider with Feast's default offline store ("file") and its SQLite online store, one entity,
and one feature view `events` of float columns over a Parquet source, applied."""

from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.types import Float64


def events_store(
    repo: Path,
    project: str,
    facts: Path,
    entity: str,
    timestamp: str,
    columns: list[str],
    *,
    ttl: timedelta,
    online: bool,
) -> FeatureStore:
    """A store in `repo` whose view `events` serves `columns` of `facts` by `entity`."""
    repo.mkdir(exist_ok=True)
    config = RepoConfig(
        project=project,
        provider="local",
        registry=str(repo / "registry.db"),
        online_store={"type": "sqlite", "path": str(repo / "online.db")},
        offline_store={"type": "file"},
        repo_path=repo,
        entity_key_serialization_version=3,
    )
    store = FeatureStore(config=config)
    member = Entity(name="member", join_keys=[entity], value_type=ValueType.INT64)
    view = FeatureView(
        name="events",
        entities=[member],
        ttl=ttl,
        schema=[Field(name=column, dtype=Float64) for column in columns],
        source=FileSource(path=str(facts), timestamp_field=timestamp),
        online=online,
    )
    store.apply([member, view])
    return store
