"""Records where each task ran and prints on both streams: for the task entrypoint and executors.

`IMPORTED_IN` is the process that imported this file: a forked task inherits the runner's
import, a fresh interpreter imports the flow from the run's code snapshot itself.
"""

import os
import sys

from shipyard import FlowSpec, Parameter, current, retry, step

IMPORTED_IN = os.getpid()


def where() -> dict:
    return {"pid": os.getpid(), "imported_in": IMPORTED_IN, "module": __name__}


class WhereFlow(FlowSpec):
    greeting = Parameter("greeting", default="hello")

    @step
    def start(self):
        print(f"{self.greeting} from start")
        sys.stdout.flush()
        os.write(2, b"straight to descriptor 2\n")
        self.start_at = where()
        self.words = [self.greeting, "world"]
        self.next(self.end)

    @retry(times=1)
    @step
    def end(self):
        print(f"attempt {current.retry_count} of end")
        if current.retry_count == 0:
            raise RuntimeError("the first attempt of end fails")
        self.end_at = where()
        self.sentence = " ".join(self.words)


if __name__ == "__main__":
    WhereFlow()
