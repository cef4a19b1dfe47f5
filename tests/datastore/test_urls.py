"""A datastore URL's protocol, read without importing fsspec, is the one fsspec reads."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fsspec.utils import get_protocol

from shipyard.datastore.urls import protocol


@pytest.mark.parametrize(
    "url",
    ["/data/store", "relative/store", "file:///data/store", "memory://runs", "s3://bucket/p",
     "gs://bucket", "abfs://container/p", "simplecache::s3://bucket/p", "a::b://c"],
)  # fmt: skip
def test_the_protocol_is_fsspecs(url: str):
    assert protocol(url) == get_protocol(url)


def test_a_flow_command_does_not_import_fsspec_for_a_local_store(tmp_path):
    code = (
        "import sys; from shipyard.cli.store_choice import apply_store_choice; "
        "from shipyard.runtime import launch; "
        "apply_store_choice(None, None, 'local'); print('fsspec' in sys.modules)"
    )
    env = {"SHIPYARD_DATASTORE": str(tmp_path / "store"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "False", done.stderr
