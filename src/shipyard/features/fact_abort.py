"""Giving up writes that never finished: PENDING batches whose writer died.

A write allocates its batch (PENDING, with its `recorded_at`), writes its files, then commits.
A writer killed in between leaves a PENDING batch behind, and a read `as_of` a moment after
its `recorded_at` waits for it (`FactsNotSettled` after the timeout) because the batch might
still commit facts recorded before that moment. Giving the batch up answers that question:

1. every PENDING batch begun before the cutoff (`older_than` ago) is marked ABORTED, in the
   catalogue, so it can never commit (a writer that was only slow fails to commit and removes
   its own files) and reads stop waiting for it;
2. for a stored table, the files no batch lists are deleted when they carry an aborted batch's
   `recorded_at` in their name (that write's files) or were last written before the cutoff
   (the temporary files of killed writes). The listing is read after step 1, so a batch that
   committed meanwhile keeps its files. An external table's files are never deleted: they are
   not Shipyard's.

`shipyard facts abort TABLE` runs this on demand; `shipyard facts compact` runs it too, with its
grace period as the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shipyard.metadata.fact_records import BatchState

if TYPE_CHECKING:
    from shipyard.features.fact_files import FactFiles
    from shipyard.metadata.contract import FactCatalogStore
    from shipyard.metadata.fact_records import FactTableRecord

__all__ = ["Abort", "abort_stale"]


@dataclass(frozen=True)
class Abort:
    """What giving up a table's stale writes did."""

    table: str
    #: The PENDING batches marked ABORTED now.
    aborted: tuple[int, ...]
    #: Files deleted: those of aborted writes and the unlisted ones older than the cutoff.
    files_deleted: int


def abort_stale(
    catalogue: FactCatalogStore, files: FactFiles, table: FactTableRecord, older_than: timedelta
) -> Abort:
    """Abort the writes of `table` begun more than `older_than` ago and never committed, and
    delete their files (see the module's docstring)."""
    cutoff = datetime.now(UTC) - older_than
    stale = [
        batch.batch_id
        for batch in catalogue.list_batches(table.name, states=[BatchState.PENDING])
        if _utc(batch.recorded_at) <= cutoff
    ]
    for batch_id in stale:
        catalogue.abort_batch(table.name, batch_id)
    if table.location is not None:
        return Abort(table.name, tuple(stale), 0)
    every = catalogue.list_batches(table.name, states=BatchState)
    listed = {path for batch in every for path in batch.files}
    given_up = {batch.recorded_at for batch in every if batch.state is BatchState.ABORTED}
    doomed = files.unlisted_before(table.name, listed, cutoff, stamps=given_up)
    files.remove(doomed)
    return Abort(table.name, tuple(stale), len(doomed))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
