"""Scoring by entity id: the rows of `{"entities": [{"member_id": 42}, ...]}` requests.

A version trained on a feature set is scored on that feature set's vectors: `OnlineLookup`
reads them from the online store and encodes them with the version's fitted encoders, for a
whole group of requests at once (the batcher calls it with every entity request of a group,
so concurrent requests share one store round trip). The store is opened on the first entity
request, as a reader (never created), and one `OnlineVectors` is kept per feature set
version (its record read once). An id the store does not hold gets the empty values a
training frame gives (not an error); a version the store does not hold is a 409 naming what
to materialize.

Vectors are encoded with NumPy (`online.encoding`, no frame per group), and an encoded
vector depends on nothing but the stored bytes and the fitted state, so each fitted state
keeps its encoded rows by stored bytes (`EncodedRows`, bounded): a group decodes and encodes
only the vectors it has not seen. The bytes
carry the materialization time, so a vector materialized again is encoded afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.features.online.errors import (
    NotMaterialized,
    OnlineStoreError,
    OnlineStoreNotFound,
    OnlineStoreUnavailable,
)
from shipyard.serving.errors import FeaturesNotMaterialized, InvalidInput, OnlineStoreDown
from shipyard.serving.types import ServableModel, fitted_features

if TYPE_CHECKING:
    from shipyard.features.fitted import FittedFeatureSet
    from shipyard.features.online import OnlineStore, OnlineVectors

__all__ = ["Columns", "OnlineLookup"]

#: One request's rows as columns: what the batcher groups and predicts.
Columns = dict[str, list[Any]]
#: One request's entities as sent: `[{"member_id": 42}, ...]`.
Entities = Sequence[Mapping[str, Any]]


class OnlineLookup:
    """Encoded vectors of entities from one online store, for any served version."""

    def __init__(self, url: str | None = None) -> None:
        #: The store's URL; None: the configured one (`SHIPYARD_ONLINE_STORE`, else the
        #: embedded file beside the metadata).
        self.url = url
        self._store: OnlineStore | None = None
        self._readers: dict[str, OnlineVectors] = {}
        self._encoded_rows: dict[str, EncodedRows] = {}
        self._lock = threading.Lock()

    def columns(
        self, model: ServableModel, requests: Sequence[Entities]
    ) -> list[Columns | Exception]:
        """Each request's encoded vectors as columns (or the request's error), from one
        lookup of all their ids."""
        fitted = fitted_features(model)
        if fitted is None:
            error = InvalidInput(
                f"{model.name}/{model.version} was not trained on a feature set, so it cannot "
                "score entities: send 'records' or 'columns'"
            )
            return [error] * len(requests)
        try:
            reader = self._reader(fitted)
        except (NotMaterialized, OnlineStoreNotFound) as exc:
            return [FeaturesNotMaterialized(f"{model.name}/{model.version}: {exc}")] * len(requests)
        except OnlineStoreUnavailable as exc:
            return [OnlineStoreDown(str(exc))] * len(requests)
        asked = [_ids(reader, request) for request in requests]
        ids = [i for found in asked if not isinstance(found, Exception) for i in found]
        if not ids:  # every request failed its checks
            return [found if isinstance(found, Exception) else {} for found in asked]
        try:
            stored = reader.store.read_vectors(reader.record.version, reader.keys(ids))
        except OnlineStoreUnavailable as exc:
            down = OnlineStoreDown(str(exc))
            return [found if isinstance(found, Exception) else down for found in asked]
        names, rows = self._encoded(fitted, reader).rows(stored)
        answers: list[Columns | Exception] = []
        start = 0
        for found in asked:
            if isinstance(found, Exception):
                answers.append(found)
                continue
            mine = rows[start : start + len(found)]
            answers.append({name: [row[j] for row in mine] for j, name in enumerate(names)})
            start += len(found)
        return answers

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store, self._readers, self._encoded_rows = None, {}, {}

    def _encoded(self, fitted: FittedFeatureSet, reader: OnlineVectors) -> EncodedRows:
        with self._lock:
            found = self._encoded_rows.get(fitted.digest)
            if found is None:
                found = self._encoded_rows[fitted.digest] = EncodedRows(fitted, reader)
            return found

    def _reader(self, fitted: FittedFeatureSet) -> OnlineVectors:
        from shipyard.features.online import OnlineVectors, open_online_store

        with self._lock:
            reader = self._readers.get(fitted.version)
            if reader is None:
                if self._store is None:
                    self._store = open_online_store(self.url, create=False)
                reader = OnlineVectors(self._store, fitted.version, feature_set=fitted.feature_set)
                self._readers[fitted.version] = reader
            return reader


class EncodedRows:
    """One fitted state's encoded rows by stored vector bytes (None: an entity the store does
    not hold), up to `limit` of them (then it starts afresh)."""

    def __init__(
        self, fitted: FittedFeatureSet, reader: OnlineVectors, limit: int = 50_000
    ) -> None:
        from shipyard.features.online.encoding import EncodedVectors

        self._vectors = EncodedVectors(reader, fitted)
        self._limit = limit
        self._rows: dict[bytes | None, tuple[Any, ...]] = {}
        self.names: list[str] = self._vectors.encoder.names

    def rows(self, stored: Sequence[bytes | None]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The encoded column names and each stored vector's encoded row, in order."""
        cache = self._rows
        missing = list(dict.fromkeys(data for data in stored if data not in cache))
        fresh = self._encode(missing) if missing else {}
        return self.names, [fresh[data] if data in fresh else cache[data] for data in stored]

    def _encode(self, missing: list[bytes | None]) -> dict[bytes | None, tuple[Any, ...]]:
        encoded = self._vectors.decoded(missing)
        fresh = dict(zip(missing, encoded.rows(), strict=True))
        if len(self._rows) + len(fresh) > self._limit:
            self._rows = fresh.copy()
        else:
            self._rows.update(fresh)
        return fresh


def _ids(reader: OnlineVectors, entities: Entities) -> list[Any] | Exception:
    """The ids of one request's entities, each checked: named by the feature set's entity
    column, and an id of its type (a bad one fails its request alone)."""
    ids = []
    for index, entity in enumerate(entities):
        if list(entity) != [reader.entity]:
            return InvalidInput(
                f"entities.{index}: an entity is one object naming its id by the feature set's "
                f"entity column, {{{reader.entity!r}: ...}}; got the keys {sorted(entity)}"
            )
        value = entity[reader.entity]
        if isinstance(value, bool) or not isinstance(value, int | str):
            return InvalidInput(
                f"entities.{index}.{reader.entity}: an entity id is an integer or a string, "
                f"not {value!r}"
            )
        ids.append(value)
    try:
        reader.keys(ids)
    except OnlineStoreError as exc:
        return InvalidInput(f"entities: {exc}")
    return ids
