"""Look at past runs of TrainFlow from Python: the same client a notebook would use.

Run `python train_flow.py run` first, then `python inspect_results.py`.
"""

from shipyard import Flow, namespace

namespace(None)  # everyone's runs, not only mine
flow = Flow("TrainFlow")
run = flow.latest_successful_run
print(f"latest successful run: {run.pathspec} ({run.created_at:%Y-%m-%d %H:%M})")
print(f"parameters: {run.parameters}")
print(f"best config: {run.data.config}  test accuracy: {run.data.test_score:.4f}")

print("\nevery candidate of the sweep:")
for task in run["train"]:
    print(f"  {task.pathspec}: {task.data.config} -> {task.data.valid_score:.4f}")

print("\nwhat the start step printed:")
print("  " + run["start"].task.stdout.strip())

run.add_tag("inspected")
print(f"\ntags now: {sorted(run.user_tags)}")
print(f"runs tagged 'inspected': {[r.id for r in flow.runs('inspected')]}")
print(f"the code of that run begins: {run.code.flowspec.splitlines()[0]}")
