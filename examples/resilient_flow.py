"""A flow that survives flaky work: retries, timeouts, caught failures and resource requests.

`python resilient_flow.py run` succeeds. To see `resume` at work, break a step, then fix it:

1. Set `BROKEN = True` below and run the flow again: the run fails in `report`, its last
   step, after everything before it succeeded.
2. Fix the code (set `BROKEN = False` again) and resume the failed run:

       python resilient_flow.py resume      # reuses every task before `report`

`resume` runs the current code with the failed run's parameters. That is why the fix goes
into the code: a parameter given to the failed run is given to the resumed one too.
"""

import random
import time

from shipyard import (
    FlowSpec,
    Parameter,
    catch,
    current,
    environment,
    resources,
    retry,
    step,
    timeout,
)

#: Set to True to break the `report` step, then back to False to fix it (see above).
BROKEN = False


class ResilientFlow(FlowSpec):
    """Download-ish work that sometimes fails, scored in parallel, then reported."""

    shards = Parameter("shards", default=4, help="How many shards to fetch in parallel.")

    @step
    def start(self):
        """Pick the shards to process."""
        self.shard_ids = list(range(self.shards))
        self.next(self.fetch, foreach="shard_ids")

    @retry(times=3)
    @timeout(seconds=30)
    @resources(cpu=1, memory=256)
    @step
    def fetch(self):
        """Flaky on the first attempt, like a network call; @retry absorbs that."""
        if current.retry_count == 0 and self.input % 2 == 1:
            raise ConnectionError(f"shard {self.input}: connection reset")
        self.rows = [random.Random(self.input * 100 + i).random() for i in range(1000)]
        self.next(self.combine)

    @step
    def combine(self, inputs):
        """Put the shards back together."""
        self.rows = [row for shard in inputs for row in shard.rows]
        self.next(self.enrich)

    @catch(var="enrich_error")
    @timeout(seconds=1)
    @step
    def enrich(self):
        """Optional enrichment that may hang: after 1 s it is stopped and skipped."""
        time.sleep(5)
        self.enriched = True
        self.next(self.report)

    @environment(vars={"REPORT_FORMAT": "short"})
    @step
    def report(self):
        """Summarise; `BROKEN = True` breaks this step to show `resume`."""
        import os

        if BROKEN:
            raise RuntimeError("report is broken: set BROKEN = False, then resume the run")
        self.mean = sum(self.rows) / len(self.rows)
        self.format = os.environ["REPORT_FORMAT"]
        print(f"{len(self.rows)} rows, mean {self.mean:.3f}, enrichment: {self.enrich_error}")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResilientFlow()
