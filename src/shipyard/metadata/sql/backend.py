"""The SQL metadata backend: run records, run reads and the domain stores over one database.

`SQLMetadataBackend` is what `open_metadata` returns for an `sqlite://` or `postgresql://`
URL. It implements `MetadataBackend` by combining the modules of this package, each owning
one concern: `database` (engine, pragmas, transactions, schema), `statements` and `keys` (the
hot paths' prepared statements and id caches), `recorder` (writes), `reader` (reads and row
mapping) and one module per domain store (`models_store`, `facts_store`,
`experiments_store`), all sharing one `Database`.
"""

from __future__ import annotations

from typing import Any, Self

from sqlalchemy import CompoundSelect, select, union

from shipyard.metadata.contract import MetadataBackend
from shipyard.metadata.models import Artifact, Attempt, ModelVersion, Run
from shipyard.metadata.registry_records import FEATURE_SET_KEY
from shipyard.metadata.sql.database import Database
from shipyard.metadata.sql.experiments_store import SQLExperimentStore
from shipyard.metadata.sql.facts_store import SQLFactCatalogStore
from shipyard.metadata.sql.keys import RunKeys
from shipyard.metadata.sql.models_store import SQLModelRegistryStore
from shipyard.metadata.sql.reader import SQLRunReader
from shipyard.metadata.sql.recorder import SQLRunRecorder

__all__ = ["SQLMetadataBackend"]


class SQLMetadataBackend(SQLRunRecorder, SQLRunReader, MetadataBackend):
    """Runs, tasks, attempts, artifacts, tags and the domain stores in an SQL database given by
    SQLAlchemy URL (SQLite in WAL mode by default, PostgreSQL for teams and scale-out).

    Opening brings the schema to the newest revision, so a fresh URL just works (unless
    `create` is false, see `Database`). Thread-safe; NOT fork-safe: a process created by
    `os.fork()` opens its own backend, and using one inherited from the parent raises
    `ShipyardError`.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.database = Database(url, create=create)
        """The database every part of this backend shares; for the `metadata.sql` package and
        the tests of the SQL schema, never for callers of the Protocols."""
        keys = RunKeys(self.database)
        SQLRunRecorder.__init__(self, keys)
        SQLRunReader.__init__(self, keys)
        self._models = SQLModelRegistryStore(self.database)
        self._facts = SQLFactCatalogStore(self.database)
        self._experiments = SQLExperimentStore(self.database)

    def __repr__(self) -> str:
        return f"SQLMetadataBackend({self.database.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def models(self) -> SQLModelRegistryStore:
        """The model registry's store, in this backend's database."""
        return self._models

    @property
    def facts(self) -> SQLFactCatalogStore:
        """The fact store's catalogue, in this backend's database (its Parquet files are not
        blobs: they live under the datastore's `facts/` folder, which gc leaves alone)."""
        return self._facts

    @property
    def experiments(self) -> SQLExperimentStore:
        """The experiments' store, in this backend's database."""
        return self._experiments

    def referenced_hashes(self) -> set[str]:
        """Every blob hash the metadata points to: artifacts, logs, code, model payloads and
        the fitted feature sets models were trained with.

        The garbage collector deletes blobs not in this set, so it must be complete: a new
        domain store that points at blobs adds its column here.
        """
        referenced: CompoundSelect[Any] = union(
            select(Artifact.sha256),
            select(Attempt.stdout_hash).where(Attempt.stdout_hash.is_not(None)),
            select(Attempt.stderr_hash).where(Attempt.stderr_hash.is_not(None)),
            select(Run.code_hash).where(Run.code_hash.is_not(None)),
            # Registered model payloads: a registry version must outlive the run it came from.
            select(ModelVersion.payload_sha256),
        )
        environments = select(ModelVersion.environment).where(ModelVersion.environment.is_not(None))
        with self.database.read() as conn:
            hashes = set(conn.scalars(referenced))
            # The fitted state of the feature set a version was trained with (its environment
            # names that blob): scoring the version needs it as much as the payload.
            for environment in conn.scalars(environments):
                feature_set = (environment or {}).get(FEATURE_SET_KEY) or {}
                for key in ("sha256", "snapshot"):  # the fitted state, the training snapshot
                    if feature_set.get(key):
                        hashes.add(feature_set[key])
            return hashes

    def close(self) -> None:
        """Close every pooled connection; SQLite then checkpoints its WAL into the main file.

        In a forked child the pooled connections are the parent's: they are dropped without
        being closed, since closing them from here would disturb the parent's sessions.
        """
        self.database.close()
