"""Metaflow's closest match to `shipyard runs`: it has no command that lists runs.

Through its client API: the current user's runs of every flow, newest first, each with its
status, user, start and finish time and tags — the columns `shipyard runs` prints.
"""

from metaflow import Metaflow, namespace

namespace("user:bench")
for flow in Metaflow():
    for run in flow:
        print(
            run.pathspec,
            "succeeded" if run.successful else "not successful",
            run.created_at,
            run.finished_at,
            ", ".join(sorted(run.user_tags)),
        )
