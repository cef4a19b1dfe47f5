"""Specification of training frames built on Ray: with the Ray executor configured, one Ray
task per entity partition on a real cluster (`ray start --head`, 2 CPUs), the frame the same,
byte for byte, as the one built here in one piece."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shipyard.config import Config
from shipyard.features import lineage_of
from shipyard.features.fact_files import FactFiles
from shipyard.features.facts import FactStore
from shipyard.metadata import open_metadata

from ..conftest import Home
from ..ray_cluster import RayCluster, ray_head
from .test_partitioned import FEATURES, fill, frame_bytes, labels

pytestmark = [pytest.mark.service, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    with ray_head(num_cpus=2) as started:
        yield started


@pytest.fixture
def store(home: Home, cluster: RayCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[FactStore]:
    """The fact store of `home`, with Ray configured as the executor, as a user sets it once."""
    for key, value in {
        **cluster.env,
        "SHIPYARD_EXECUTOR": "ray",
        "SHIPYARD_RAY_ADDRESS": cluster.address,
    }.items():
        monkeypatch.setenv(key, value)
    config = Config.reload()
    with open_metadata(config.metadata) as metadata:
        facts = FactStore(metadata.facts, FactFiles(config.datastore), user="tester")
        fill(facts, home.root / "exports")
        yield facts


#: The build on Ray runs in a fresh interpreter, as a user's script would: Ray fixes its
#: authentication mode when a process first initialises it, so a test process that already
#: used another (tokenless) Ray instance could not join this cluster.
ON_RAY = """
import pickle, sys
from shipyard.config import Config
from shipyard.features.fact_files import FactFiles
from shipyard.features.facts import FactStore
from shipyard.metadata import open_metadata
from tests.features.test_partitioned import FEATURES, frame_bytes, labels

config = Config.current()
with open_metadata(config.metadata, create=False) as metadata:
    store = FactStore(metadata.facts, FactFiles(config.datastore), user="tester")
    frame = FEATURES.training_frame(labels(), facts=store.scan, as_of=pickle.loads(
        bytes.fromhex(sys.argv[1])))
with open(sys.argv[2], "wb") as out:
    pickle.dump(frame, out)
with open(sys.argv[2].replace(".pickle", ".bytes"), "wb") as out:
    out.write(frame_bytes(frame))  # as built: a pickled frame may come back typed differently
"""


def test_a_frame_built_on_ray_is_the_frame_built_here(store: FactStore, home: Home) -> None:
    here = FEATURES.training_frame(labels(), facts=store.scan, executor="local")
    as_of = lineage_of(here).as_of
    answer = home.root / "on_ray.pickle"
    built = subprocess.run(
        [sys.executable, "-c", ON_RAY, pickle.dumps(as_of).hex(), str(answer)],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    with answer.open("rb") as stored:
        on_ray = pickle.load(stored)
    assert answer.with_suffix(".bytes").read_bytes() == frame_bytes(here)
    assert lineage_of(on_ray) == lineage_of(here)
    fitted = FEATURES.fit(on_ray)
    assert fitted.digest == FEATURES.fit(here).digest
    pd.testing.assert_frame_equal(fitted.transform(on_ray), fitted.transform(here))
    parts = Path(Config.current().datastore) / "tmp" / "frames"
    # The Ray tasks wrote their parts under the datastore (a build here uses a temporary
    # folder), and the parts are gone once put together.
    assert parts.is_dir() and list(parts.iterdir()) == []
