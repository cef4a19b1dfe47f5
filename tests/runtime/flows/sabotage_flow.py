"""start -> end, where `end` succeeds after making the datastore refuse every write.

It puts a regular file where the blobs folder was (the folder moves aside), so storing the
task's logs fails with a real OSError whoever runs it: a read-only folder would not stop root.
"""

import os

from shipyard import FlowSpec, step


class SabotageFlow(FlowSpec):
    @step
    def start(self):
        self.value = 1
        self.next(self.end)

    @step
    def end(self):
        print("the step itself succeeds")
        blobs = os.path.join(os.environ["SHIPYARD_DATASTORE"], "blobs")
        os.rename(blobs, f"{blobs}.moved")
        with open(blobs, "w") as f:
            f.write("not a folder")


if __name__ == "__main__":
    SabotageFlow()
