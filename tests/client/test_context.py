"""The client context: stores opened lazily, and re-opened when the configuration moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.client import Flow, Run
from shipyard.client.context import ClientContext, current_context
from shipyard.exceptions import StoreNotFound
from shipyard.metadata.errors import MetadataNotFound
from shipyard.metadata.run_index import SQLiteRunIndex

from .conftest import History, open_history


def test_the_same_configuration_shares_one_context(history: History) -> None:
    assert current_context() is current_context()


def test_a_context_opens_no_store_until_used(history: History) -> None:
    context = ClientContext(str(history.root / "elsewhere"), "sqlite:///unused.db")
    assert "elsewhere" in repr(context)
    assert not (history.root / "elsewhere").exists()


def test_changing_the_configured_urls_switches_stores(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history.successful_run("FirstFlow")
    Flow("FirstFlow")
    second = open_history(tmp_path / "second", monkeypatch)
    second.successful_run("SecondFlow")
    assert Flow("SecondFlow").name == "SecondFlow"
    second.metadata.close()


def test_objects_keep_reading_the_stores_they_were_created_with(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Run(f"TrainFlow/{history.successful_run()}")
    second = open_history(tmp_path / "second", monkeypatch)
    assert [step.id for step in run] == ["start", "train", "end"]
    assert run.data is not None
    assert run.data.score == 0.9
    second.metadata.close()


def test_an_explicit_context_reads_other_stores(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history.successful_run("FirstFlow")
    first = current_context()
    second = open_history(tmp_path / "second", monkeypatch)
    assert Flow("FirstFlow", context=first).name == "FirstFlow"
    second.metadata.close()


def test_listing_reads_a_local_sqlite_database_directly(history: History) -> None:
    history.successful_run()
    context = ClientContext(str(history.root / "store"), f"sqlite:///{history.root}/metadata.db")
    assert isinstance(context.listing, SQLiteRunIndex)


def test_listing_uses_the_metadata_store_once_it_is_open(history: History) -> None:
    history.successful_run()
    context = ClientContext(str(history.root / "store"), f"sqlite:///{history.root}/metadata.db")
    store = context.metadata
    assert context.listing is store
    context.close()


def test_reading_a_missing_database_says_so_and_creates_nothing(tmp_path: Path) -> None:
    context = ClientContext(str(tmp_path / "store"), f"sqlite:///{tmp_path}/new/metadata.db")
    with pytest.raises(MetadataNotFound, match=f"no metadata database at {tmp_path}/new/"):
        context.listing.list_flows()
    assert not (tmp_path / "new").exists()


def test_reading_never_creates_a_missing_store(tmp_path: Path) -> None:
    # Issue 11, item 12: a read used to create an empty database here and report no runs.
    context = ClientContext(str(tmp_path / "store"), f"sqlite:///{tmp_path}/new/metadata.db")
    with pytest.raises(StoreNotFound, match=f"no Shipyard store at {tmp_path / 'new'}"):
        context.listing.list_flows()
    with pytest.raises(StoreNotFound):
        Flow("AnyFlow", context=context)
    assert not (tmp_path / "new").exists()


def test_a_writer_outside_a_run_may_create_the_store(tmp_path: Path) -> None:
    context = ClientContext(str(tmp_path / "store"), f"sqlite:///{tmp_path}/new/metadata.db")
    assert context.metadata_for_writing().list_flows() == []
    assert (tmp_path / "new" / "metadata.db").is_file()
    assert context.listing.list_flows() == []
    context.close()
