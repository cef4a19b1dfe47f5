"""A step with @retry alone that fails on its first attempt only."""

from on_ray import ray_task

from shipyard import FlowSpec, current, retry, step


class RetryOnlyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @step
    @retry(times=1)
    def work(self):
        print(f"attempt {current.retry_count}")
        if current.retry_count == 0:
            raise ValueError("first attempt fails")
        self.value = "second attempt worked"
        self.ray_task = ray_task()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RetryOnlyFlow()
