"""A flow with a structural mistake: the lint must refuse it before anything runs."""

from shipyard import FlowSpec, step


class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.trian)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadFlow()
