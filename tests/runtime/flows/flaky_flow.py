"""No decorators at all: `work` fails its first `--failures` attempts (for `--with`)."""

from shipyard import FlowSpec, Parameter, current, step


class FlakyFlow(FlowSpec):
    failures = Parameter("failures", default=1)

    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        print(f"attempt {current.retry_count}")
        if current.retry_count < self.failures:
            raise RuntimeError(f"attempt {current.retry_count} fails")
        self.value = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FlakyFlow()
