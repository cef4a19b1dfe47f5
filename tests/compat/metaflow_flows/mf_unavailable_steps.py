"""A Metaflow flow using a per-step environment and S3, which Shipyard does not have yet."""

from metaflow import S3, FlowSpec, conda, step


class CondaFlow(FlowSpec):
    @conda(packages={"pandas": "2.2.0"}, python="3.11")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        with S3(run=self) as s3:
            s3.put("greeting", "hello")


if __name__ == "__main__":
    CondaFlow()
