"""Printed at the end of `make demo`: the commands that inspect the run it just made."""

from shipyard import Flow

run = Flow("TrainFlow").latest_run
end = run["end"].task
print(
    f"""
The demo trained {len(list(run["train"]))} candidates; the best scored {run.data.test_score:.4f}
on the held-out test rows. Look at the run with:

  .venv/bin/shipyard runs TrainFlow
  .venv/bin/shipyard show {run.pathspec}
  .venv/bin/shipyard logs {run.pathspec}/train
  .venv/bin/shipyard artifacts {end.pathspec} --show config
  .venv/bin/python examples/inspect_results.py
  .venv/bin/python examples/train_flow.py show

The model is registered as breast-cancer (see `.venv/bin/shipyard models versions
breast-cancer`); serve it with `.venv/bin/shipyard serve breast-cancer@production`.

The same sweep runs on a Ray cluster (this machine's, else a local one) with no code change:

  .venv/bin/python examples/train_flow.py run --executor ray

To stop in a debugger inside a step (`breakpoint()`), run every task in this process, one at
a time; to make every step retry twice, attach the decorator from the command line:

  .venv/bin/python examples/train_flow.py run --executor inline
  .venv/bin/python examples/train_flow.py run --with retry:times=2

The features demo registered member-churn with the feature set it was trained with:

  .venv/bin/shipyard models show member-churn

and scored members by id from the online store; score them yourself, or watch the drift:

  .venv/bin/shipyard serve member-churn      # POST {{"entities": [{{"member_id": 7}}]}}
  .venv/bin/shipyard features drift churn_features --model member-churn
"""
)
