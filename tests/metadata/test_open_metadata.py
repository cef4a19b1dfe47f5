"""`open_metadata(url)`: the one way in, and what it keeps out of processes that never open it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import shipyard
from shipyard.exceptions import ShipyardError
from shipyard.metadata import open_metadata

SRC = Path(shipyard.__file__).resolve().parent


def test_a_sqlite_url_opens_a_ready_backend(db_url: str) -> None:
    with open_metadata(db_url) as backend:
        run_id = backend.create_run("Flow", "alice")
        assert backend.get_run("Flow", run_id).user == "alice"
        assert backend.models.list_models() == []


def test_an_unknown_url_is_refused_naming_the_urls_that_work() -> None:
    with pytest.raises(ShipyardError, match=r"use an sqlite:/// or postgresql:// URL"):
        open_metadata("mysql://db.example/shipyard")


def test_importing_the_metadata_package_does_not_import_sqlalchemy() -> None:
    # The local executor's warm worker and `shipyard runs` import the contract and the records
    # but must not pay for SQLAlchemy until a backend is opened.
    code = (
        "import sys, shipyard.metadata, shipyard.metadata.run_index; "
        "print('sqlalchemy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_nothing_above_the_metadata_package_imports_sqlalchemy() -> None:
    importing = re.compile(r"^\s*(from|import)\s+sqlalchemy\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if SRC / "metadata" not in path.parents and importing.search(path.read_text())
    ]
    assert offenders == []
