"""Batch scoring: a Parquet (or CSV) file streamed through a model into a new file.

Files may be far larger than memory, so rows are read, scored and written one chunk at a
time (`ParquetFile.iter_batches`, `read_csv(chunksize=...)`). The output is the input's
columns plus a `prediction` column, in the input's row order. Columns the model's
signature does not name (ids, labels, timestamps) are carried through to the output
without reaching the model: files to score rarely hold only features. It is written under a
temporary name in the output's directory and renamed at the end, so a reader never sees
a half-written file, and a failure leaves no output behind.

With `entities=True` the input holds entity ids instead of features (a column named like the
feature set's entity, `member_id`, and anything else to carry through): each chunk's vectors
are read from the online store and encoded with the version's fitted feature set, as the
server does for `{"entities": [...]}`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from shipyard.exceptions import ShipyardError
from shipyard.serving.types import ModelSource, fitted_features

if TYPE_CHECKING:
    from shipyard.serving.types import ServableModel

__all__ = ["PREDICTION_COLUMN", "BatchScoringError", "score_file"]

PREDICTION_COLUMN = "prediction"

# Called after each chunk with (rows done so far, total rows or None when unknown).
Progress = Callable[[int, int | None], None]
# The frame a model predicts for a chunk of the input.
Features = Callable[[pa.Table], pd.DataFrame]


class BatchScoringError(ShipyardError):
    """The input cannot be scored as asked (unknown format, a clashing column, ...)."""


def score_file(
    ref: str,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_rows: int = 50_000,
    registry: ModelSource | None = None,
    on_progress: Progress | None = None,
    entities: bool = False,
    online_store: str | None = None,
) -> int:
    """Score every row of `input_path` with the model `ref` names; returns the row count.

    The formats follow the suffixes (`.parquet`/`.pq` or `.csv`), so a CSV can be scored
    into Parquet and back. With `entities`, the rows are entity ids scored on their vectors
    from the online store `online_store` names (default: the configured one).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    source, target = Path(input_path), Path(output_path)
    in_format, out_format = _format(source), _format(target)
    if not source.is_file():
        raise BatchScoringError(f"no input file at {source}")
    if registry is None:
        from shipyard.registry.registry import ModelRegistry

        registry = ModelRegistry.from_config(create=False)
    model: ServableModel = registry.load_version(registry.resolve(ref))
    chunks, total, schema = _read(source, in_format, chunk_rows)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    with ExitStack() as stack:
        features = (
            stack.enter_context(_entity_features(model, online_store))
            if entities
            else partial(_row_features, model)
        )
        try:
            rows = _write(
                _scored(model, chunks, features), temporary, out_format, total, on_progress
            )
            if rows == 0:
                # Nothing was scored, so nothing was written: still give the reader a file
                # with the input's columns and an (empty) prediction column.
                _write_empty(temporary, out_format, schema)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
    return rows


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise BatchScoringError(f"{path}: use a .parquet, .pq or .csv file, not {suffix or 'none'}")


def _read(
    path: Path, file_format: str, chunk_rows: int
) -> tuple[Iterator[pa.Table], int | None, pa.Schema | None]:
    """The file's rows in chunks of at most `chunk_rows`, the total and the schema when known
    up front (Parquet says both in its footer; a CSV must be read to find out)."""
    if file_format == "parquet":
        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=chunk_rows)
        chunks = (pa.Table.from_batches([batch]) for batch in batches)
        return chunks, parquet.metadata.num_rows, parquet.schema_arrow
    frames = pd.read_csv(path, chunksize=chunk_rows)
    return (pa.Table.from_pandas(frame, preserve_index=False) for frame in frames), None, None


def _scored(
    model: ServableModel, chunks: Iterator[pa.Table], features: Features
) -> Iterator[pa.Table]:
    for chunk in chunks:
        if PREDICTION_COLUMN in chunk.column_names:
            raise BatchScoringError(
                f"the input already has a {PREDICTION_COLUMN!r} column; rename or drop it"
            )
        if chunk.num_rows == 0:
            continue
        predictions = model.predict(features(chunk))
        if len(predictions) != chunk.num_rows:
            raise BatchScoringError(
                f"{model.name}/{model.version} returned {len(predictions)} predictions for "
                f"{chunk.num_rows} rows"
            )
        yield chunk.append_column(PREDICTION_COLUMN, pa.array(predictions))


def _row_features(model: ServableModel, chunk: pa.Table) -> pd.DataFrame:
    """The columns the model takes; all of them without a signature to say which."""
    if model.signature is None:
        return chunk.to_pandas()
    wanted = set(model.signature.column_names)
    # A missing feature stays missing, for the signature check to name it.
    return chunk.select([name for name in chunk.column_names if name in wanted]).to_pandas()


@contextmanager
def _entity_features(model: ServableModel, url: str | None) -> Iterator[Features]:
    """The encoded vectors of a chunk's entities, from the online store `url` names."""
    from shipyard.features.online import OnlineVectors, open_online_store

    fitted = fitted_features(model)
    if fitted is None:
        raise BatchScoringError(
            f"{model.name}/{model.version} was not trained on a feature set, so it cannot "
            "score entities; score a file of features without --entities"
        )
    store = open_online_store(url, create=False)
    try:
        reader = OnlineVectors(store, fitted.version, feature_set=fitted.feature_set)

        def features(chunk: pa.Table) -> pd.DataFrame:
            if reader.entity not in chunk.column_names:
                raise BatchScoringError(
                    f"the entities file has no {reader.entity!r} column (the entity of feature "
                    f"set {fitted.feature_set!r}); its columns: {', '.join(chunk.column_names)}"
                )
            return fitted.transform(reader.frame(chunk.column(reader.entity).to_pylist()))

        yield features
    finally:
        store.close()


def _write(
    tables: Iterator[pa.Table],
    path: Path,
    file_format: str,
    total: int | None,
    on_progress: Progress | None,
) -> int:
    writer: Any = None
    schema: pa.Schema | None = None
    rows = 0
    try:
        for table in tables:
            if schema is None:
                schema = table.schema
                writer = (
                    pq.ParquetWriter(path, schema)
                    if file_format == "parquet"
                    else pa_csv.CSVWriter(path, schema)
                )
            else:
                # Later chunks may infer a narrower type (all-integer predictions, a column
                # of nulls); the file has one schema, the first chunk's.
                table = table.cast(schema)
            writer.write_table(table)
            rows += table.num_rows
            if on_progress is not None:
                on_progress(rows, total)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _write_empty(path: Path, file_format: str, schema: pa.Schema | None) -> None:
    table = (schema or pa.schema([])).empty_table()
    table = table.append_column(PREDICTION_COLUMN, pa.array([], pa.float64()))
    if file_format == "parquet":
        pq.write_table(table, path)
    else:
        pa_csv.write_csv(table, path)
