"""A step that fails once and is retried after a pause longer than the heartbeat interval."""

from shipyard import FlowSpec, current, retry, step


class PatientFlow(FlowSpec):
    @retry(times=1, minutes_between_retries=0.35)
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("not yet")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PatientFlow()
