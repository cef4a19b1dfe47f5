"""A flow that survives flaky work: retries, timeouts, caught failures and resource requests.

`python resilient_flow.py run`. Then break it on purpose and resume:

    python resilient_flow.py run --fail-in report      # fails in the last step
    python resilient_flow.py resume                     # reuses everything before `report`
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


class ResilientFlow(FlowSpec):
    """Download-ish work that sometimes fails, scored in parallel, then reported."""

    fail_in = Parameter("fail_in", default="", help="Name a step to make it fail (demo).")

    @step
    def start(self):
        """Pick the shards to process."""
        self.shards = list(range(4))
        self.next(self.fetch, foreach="shards")

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
        """Summarise; `--fail-in report` breaks this step to show `resume`."""
        import os

        if self.fail_in == "report":
            raise RuntimeError("report step broken on purpose")
        self.mean = sum(self.rows) / len(self.rows)
        self.format = os.environ["REPORT_FORMAT"]
        print(f"{len(self.rows)} rows, mean {self.mean:.3f}, enrichment: {self.enrich_error}")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResilientFlow()
