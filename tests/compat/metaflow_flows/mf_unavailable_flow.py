"""A Metaflow flow using flow decorators that belong to deployments and environments."""

from metaflow import FlowSpec, conda_base, project, step


@project(name="recommendations")
@conda_base(python="3.11")
class ProjectFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProjectFlow()
