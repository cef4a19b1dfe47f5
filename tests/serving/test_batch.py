"""Batch scoring: files streamed through a registered model in chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.registry import SignatureError
from shipyard.serving.batch import BatchScoringError, score_file

from .conftest import example_frame


def test_score_file_streams_a_parquet_file_in_chunks_keeping_row_order(
    registry, tmp_path: Path
) -> None:
    rows = 120_000
    frame = pd.DataFrame(
        {"id": np.arange(rows), "x1": np.linspace(-1, 1, rows), "x2": np.arange(rows) % 7}
    )
    data = tmp_path / "data"
    data.mkdir()
    source, target = data / "in.parquet", data / "out.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=30_000)
    progress: list[tuple[int, int | None]] = []

    count = score_file(
        "ranker/2",
        source,
        target,
        chunk_rows=50_000,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert count == rows
    assert progress == [(50_000, rows), (100_000, rows), (120_000, rows)]
    scored = pq.read_table(target).to_pandas()
    assert list(scored.columns) == ["id", "x1", "x2", "prediction"]
    assert (scored["id"].to_numpy() == np.arange(rows)).all()
    expected = 2.0 * (frame["x1"] + frame["x2"])
    assert np.allclose(scored["prediction"].to_numpy(), expected.to_numpy())
    assert sorted(p.name for p in data.iterdir()) == ["in.parquet", "out.parquet"]


def test_score_file_reads_and_writes_csv(registry, tmp_path: Path) -> None:
    frame = example_frame(10)
    frame.to_csv(tmp_path / "in.csv", index=False)
    count = score_file("ranker@production", tmp_path / "in.csv", tmp_path / "out.csv", chunk_rows=3)
    scored = pd.read_csv(tmp_path / "out.csv")
    assert count == 10 and list(scored.columns) == ["x1", "x2", "prediction"]
    assert np.allclose(scored["prediction"], frame["x1"] + frame["x2"])


def test_a_failed_score_leaves_no_output(registry, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    frame = example_frame(100).astype({"x2": "float64"})
    frame.loc[70, "x2"] = 2.5  # fails in the second chunk, after the first was written
    pq.write_table(pa.Table.from_pandas(frame), data / "in.parquet")
    with pytest.raises(SignatureError, match=r"row 20: 2\.5 is not an integer"):
        score_file("ranker/1", data / "in.parquet", data / "out.parquet", chunk_rows=50)
    assert sorted(p.name for p in data.iterdir()) == ["in.parquet"]
    with pytest.raises(BatchScoringError, match=r"\.parquet, \.pq or \.csv"):
        score_file("ranker/1", data / "in.parquet", data / "out.json")
