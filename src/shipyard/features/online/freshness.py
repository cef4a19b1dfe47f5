"""Freshness: how far each feature set version in an online store lags its facts.

The lag of a version is how much newer its newest fact is than its watermark: zero when
nothing was recorded since the last complete materialization, and unknown (None, worse than
any threshold) while the version was never completely materialized.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shipyard.features.online.store import OnlineStore

if TYPE_CHECKING:
    from shipyard.features.facts import FactStore

__all__ = ["Freshness", "freshness"]


@dataclass(frozen=True)
class Freshness:
    feature_set: str
    version: str
    #: The latest `recorded_at` over the version's fact tables (None: no facts).
    newest_fact: datetime | None
    watermark: datetime | None
    entities: int

    @property
    def lag(self) -> timedelta | None:
        """None while never materialized completely."""
        if self.watermark is None:
            return None
        if self.newest_fact is None or self.newest_fact <= self.watermark:
            return timedelta(0)
        return self.newest_fact - self.watermark

    def exceeds(self, limit: timedelta) -> bool:
        return self.lag is None or self.lag > limit


def freshness(store: OnlineStore, facts: FactStore | None = None) -> list[Freshness]:
    """One entry per feature set version the store holds."""
    records = store.list_versions()
    if records and facts is None:
        from shipyard.features.facts import store as fact_store

        facts = fact_store()
    newest: dict[str, datetime | None] = {}
    found = []
    for record in records:
        assert facts is not None
        for table in record.tables:
            if table not in newest:
                newest[table] = facts.describe(table).last_recorded
        times = [t for t in (newest[table] for table in record.tables) if t is not None]
        found.append(
            Freshness(
                feature_set=record.feature_set,
                version=record.version,
                newest_fact=max(times, default=None),
                watermark=record.watermark,
                entities=store.count(record.version),
            )
        )
    return found
