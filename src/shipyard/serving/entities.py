"""Scoring by entity id: the rows of `{"entities": [{"member_id": 42}, ...]}` requests.

A version trained on a feature set is scored on that feature set's vectors: `OnlineLookup`
reads them from the online store and encodes them with the version's fitted encoders, for a
whole group of requests at once (the batcher calls it with every entity request of a group,
so concurrent requests share one store round trip and one `transform`). The store is opened
on the first entity request, as a reader (never created), and one `OnlineVectors` is kept
per feature set version (its record read once). An id the store does not hold gets the empty
values a training frame gives (not an error); a version the store does not hold is a 409
naming what to materialize.
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
        answers: list[Columns | Exception] = []
        ids: list[Any] = []
        for request in requests:
            found = _ids(reader, request)
            answers.append(found if isinstance(found, Exception) else {})
            if not isinstance(found, Exception):
                ids.extend(found)
        if not ids:
            return answers
        try:
            encoded = fitted.transform(reader.frame(ids))
        except OnlineStoreUnavailable as exc:
            return [a if isinstance(a, Exception) else OnlineStoreDown(str(exc)) for a in answers]
        start = 0
        for index, request in enumerate(requests):
            if isinstance(answers[index], Exception):
                continue
            rows = encoded.iloc[start : start + len(request)]
            answers[index] = {str(name): values.tolist() for name, values in rows.items()}
            start += len(request)
        return answers

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store, self._readers = None, {}

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
