"""The features benchmark at a tiny scale: its jobs run, and Shipyard's frame and the
hand-written DuckDB query it is compared with compute the same features."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from benchmarks.features_data import Scale

from benchmarks import features_data, features_job

from ..conftest import Home


def test_shipyard_and_the_hand_query_agree_on_every_label_row(home: Home, tmp_path: Path) -> None:
    scale = Scale(entities=30, events=20, labels=300)
    features_data.write_facts(tmp_path / "facts", scale)
    labels = features_data.write_labels(tmp_path / "labels.parquet", scale)
    features_job.store(tmp_path / "facts")
    features_job.frame("full", labels, tmp_path / "shipyard.parquet")
    features_job.duckdb_frame("full", labels, tmp_path / "duckdb.parquet")
    ours = pd.read_parquet(tmp_path / "shipyard.parquet")
    hand = pd.read_parquet(tmp_path / "duckdb.parquet")
    assert list(ours.label_row) == list(range(scale.labels))
    pd.testing.assert_frame_equal(ours, hand, check_dtype=False, rtol=1e-12)
    assert ours.count_30d.sum() > 0 and ours.last_amount.isna().any()


def test_logged_facts_are_all_stored(home: Home) -> None:
    figures = features_job.log(500)
    assert figures["rate"] > 0
