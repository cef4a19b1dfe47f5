"""A notebook, as Metaflow's NBRunner documentation shows one: a cell defines a flow and runs
it with `NBRunner(...).nbrun()`; a later cell reads the run. Run here by IPython's own shell,
cell by cell, as Jupyter would."""

import sys

from IPython.core.interactiveshell import InteractiveShell

CELLS = [
    """
from metaflow import FlowSpec, NBRunner, Parameter, step

class NotebookFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.1)

    @step
    def start(self):
        self.doubled = self.alpha * 2
        self.next(self.end)

    @step
    def end(self):
        print("doubled", self.doubled)

run = NBRunner(NotebookFlow, show_output=False).nbrun(alpha=0.5)
""",
    'print("notebook ok", run.pathspec, run.data.doubled, run.successful)',
]

shell = InteractiveShell.instance()
for cell in CELLS:
    result = shell.run_cell(cell, store_history=True)
    if not result.success:
        sys.exit(1)
