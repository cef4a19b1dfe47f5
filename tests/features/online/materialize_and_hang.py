"""Run by test_crash.py: materialize RANKER in batches of two entities into the store named
by argv[1], announce the first batch written, then hang until killed."""

import sys
import time

from featuresets import RANKER

from shipyard.features.online import open_online_store
from shipyard.features.online.materialize import materialize


def hang_after_the_first_batch(done: int, total: int) -> None:
    if 0 < done < total:
        print(f"written {done} of {total}", flush=True)
        time.sleep(600)


materialize(
    RANKER, open_online_store(sys.argv[1]), batch_size=2, progress=hang_after_the_first_batch
)
