"""Everything Metaflow's `current` offers inside a step."""

import os

from metaflow import FlowSpec, current, step


class WhereAmIFlow(FlowSpec):
    @step
    def start(self):
        scratch = os.path.join(current.tempdir, "scratch.txt")
        with open(scratch, "w") as out:
            out.write("temporary")
        self.seen = {
            "flow": current.flow_name,
            "run": current.run_id,
            "step": current.step_name,
            "task": current.task_id,
            "pathspec": current.pathspec,
            "namespace": current.namespace,
            "user": current.username,
            "retry": current.retry_count,
            "production": current.is_production,
            "project": current.project_name,
            "branch": current.branch_name,
            "card": current.card,
            "missing": current.get("no_such_field", "fallback"),
            "got_step": current.get("step_name"),
            "nodes": current.parallel.num_nodes,
            "node": current.parallel.node_index,
            "run_object": current.run.pathspec,
            "task_object": current.task.pathspec,
            "scratch_existed": os.path.exists(scratch),
        }
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WhereAmIFlow()
