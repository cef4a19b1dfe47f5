"""The GPU scenario of issue 10, run for real: `python -m benchmarks.gpu.check`.

On a machine with an NVIDIA GPU (and PyTorch built with CUDA) this runs `gpu_flow.py` in a
fresh store, without `--gpus`, then reads its results back from two fresh processes in
another directory: one that sees the GPU and one started with `CUDA_VISIBLE_DEVICES=""`.
Each expectation is one check; the report goes to `benchmarks/results/gpu.md` and the exit
status is 1 if any check failed.

Without a visible NVIDIA GPU there is nothing to verify: it says so, writes nothing and exits
0, so that it can sit next to the CPU benchmarks without failing them (it is not part of
`make bench`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GPU_DIR = Path(__file__).resolve().parent
FLOW = GPU_DIR / "gpu_flow.py"
REPORT = GPU_DIR.parent / "results" / "gpu.md"
RUN_TIMEOUT = 900.0
READ_TIMEOUT = 300.0
# Predictions of one model on the GPU and on the CPU agree to float32 rounding.
TOLERANCE = 1e-4

# What the test suite verifies without a GPU; kept in every report so that the file always
# says which parts were verified on a GPU and which only on a CPU.
CPU_VERIFIED = """\
## Verified on a CPU-only machine, by the test suite

Payloads saved on a GPU are made without one by tagging every saved storage `cuda:0`
(`tests/registry/flows/cuda_tags.py`): these are the bytes PyTorch writes on a GPU machine,
and each test first checks that PyTorch's own loader refuses them ("Attempting to deserialize
object on a CUDA device").

- `tests/datastore/test_unpickling.py`: a CUDA tensor and an `nn.Module` with CUDA parameters
  are read onto the CPU through the artifact store; reading plain artifacts does not import
  PyTorch.
- `tests/datastore/test_flow_classes.py`: classes pickled as `__main__.X` come from the run's
  code snapshot; a run without a snapshot, or a flow file that fails to import, is a clear error.
- `tests/registry/test_flow_file_models.py`: a flow defining `Net` in the flow file, with
  CUDA-tagged weights, is read back by the client (`task.data.model`) and by `models.load` in
  another process and directory; registering a `__main__` class outside a run is refused.
- `tests/runtime/test_flow_file_classes.py`: a forked task and a fresh-interpreter task (the
  path GPU steps take) read each other's instances of a flow-file class.
- `tests/registry/test_devices.py`, `tests/serving/test_device.py`: models load onto the CPU by
  default, CPU-only flavors refuse a device, device names are checked, `shipyard serve
  --device` fails in one line on a bad device and hands the device to the loader.

## Needs a GPU

Verified only by the table of checks at the top of this file, when it is there: the scenario
of `benchmarks/gpu/gpu_flow.py` (GPU detection without `--gpus`, a GPU per task, CUDA in
tasks of a flow whose module checks the device at import time), moving a model onto the GPU
(`models.load(ref, device="cuda")`), restoring CUDA artifacts onto the GPU where one is
visible, and reading them back with `CUDA_VISIBLE_DEVICES=""`.
"""

# Run by a fresh interpreter in an empty directory: prints what it read, as JSON.
READER = """
import json

import torch

from shipyard import Flow
from shipyard.registry import models
from shipyard.registry.flavors import FlavorError

run = Flow("GpuFlow").latest_run
join = run["join"].task
example = join.data.example
out = {
    "cuda_available": torch.cuda.is_available(),
    "train": [
        {"device": task.data.device_used, "visible": task.data.visible_devices}
        for task in run["train"]
    ],
}
model = join.data.model
device = next(model.parameters()).device
with torch.no_grad():
    inputs = torch.tensor(example.to_numpy(dtype="float32"), device=device)
    out["artifact_device"] = str(device)
    out["artifact_predictions"] = model(inputs)[:, 0].cpu().tolist()
on_cpu = models.load("gpu-net")
out["cpu_device"] = str(next(on_cpu.model.parameters()).device)
out["cpu_predictions"] = on_cpu.predict(example)
try:
    on_gpu = models.load("gpu-net", device="cuda")
except FlavorError as exc:
    out["cuda_error"] = str(exc)
else:
    out["cuda_device"] = str(next(on_gpu.model.parameters()).device)
    out["cuda_predictions"] = on_gpu.predict(example)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Check:
    """One expectation of the scenario and whether this machine met it."""

    name: str
    passed: bool
    detail: str


def visible_gpus() -> list[str]:
    """The names of the NVIDIA GPUs `nvidia-smi` lists (none if it is missing or fails)."""
    if shutil.which("nvidia-smi") is None:
        return []
    done = subprocess.run(
        ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def isolated_env(root: Path) -> dict[str, str]:
    """This environment with a fresh Shipyard store under `root` and no user configuration."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHIPYARD_")}
    store = root / "store"
    env.update(
        SHIPYARD_DATASTORE=str(store),
        SHIPYARD_METADATA=f"sqlite:///{store / 'metadata.db'}",
        SHIPYARD_CONFIG=str(root / "no-config.toml"),
        SHIPYARD_USER="gpu-check",
    )
    return env


def run_flow(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    flow_dir = root / "flow"
    flow_dir.mkdir()
    flow = Path(shutil.copy(FLOW, flow_dir))
    return subprocess.run(
        [sys.executable, flow.name, "run"],
        cwd=flow_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def read_back(root: Path, env: dict[str, str]) -> dict[str, Any] | str:
    """What a fresh process in another directory reads; the error text if it failed."""
    elsewhere = root / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", READER],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=READ_TIMEOUT,
        check=False,
    )
    if done.returncode:
        return _tail(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def close(left: list[float] | None, right: list[float] | None) -> bool:
    return (
        left is not None
        and right is not None
        and len(left) == len(right)
        and all(abs(a - b) <= TOLERANCE for a, b in zip(left, right, strict=True))
    )


def gpu_checks(seen: dict[str, Any], gpu_count: int) -> list[Check]:
    """What the process that sees the GPU must have read."""
    train = seen["train"]
    visible = [task["visible"] for task in train]
    distinct = len(set(visible)) == len(visible) or gpu_count < len(visible)
    return [
        Check(
            "both `@resources(gpu=1)` training tasks ran on CUDA",
            len(train) == 2 and all(task["device"].startswith("cuda") for task in train),
            ", ".join(task["device"] for task in train),
        ),
        Check(
            "each GPU task was given its GPU (`CUDA_VISIBLE_DEVICES`; distinct GPUs when the "
            "machine has 2 or more)",
            all(visible) and distinct,
            f"CUDA_VISIBLE_DEVICES per task: {visible}; GPUs on the machine: {gpu_count}",
        ),
        Check(
            "client reads the trained module (a CUDA artifact) back onto the GPU",
            seen["artifact_device"].startswith("cuda"),
            seen["artifact_device"],
        ),
        Check(
            "`models.load(ref)` loads onto the CPU",
            seen["cpu_device"] == "cpu",
            seen["cpu_device"],
        ),
        Check(
            "`models.load(ref, device='cuda')` loads onto the GPU and predicts as on the CPU",
            str(seen.get("cuda_device", "")).startswith("cuda")
            and close(seen.get("cuda_predictions"), seen["cpu_predictions"]),
            seen.get("cuda_device") or seen.get("cuda_error", ""),
        ),
    ]


def cpu_only_checks(seen: dict[str, Any], on_gpu: dict[str, Any]) -> list[Check]:
    """What the process started with `CUDA_VISIBLE_DEVICES=""` must have read."""
    return [
        Check(
            'with `CUDA_VISIBLE_DEVICES=""`: client reads the CUDA artifact onto the CPU, '
            "same predictions",
            seen["artifact_device"] == "cpu"
            and close(seen["artifact_predictions"], on_gpu["artifact_predictions"]),
            seen["artifact_device"],
        ),
        Check(
            'with `CUDA_VISIBLE_DEVICES=""`: `models.load(ref)` loads onto the CPU, same '
            "predictions",
            seen["cpu_device"] == "cpu"
            and close(seen["cpu_predictions"], on_gpu["cpu_predictions"]),
            seen["cpu_device"],
        ),
        Check(
            'with `CUDA_VISIBLE_DEVICES=""`: `models.load(ref, device="cuda")` is refused clearly',
            "sees no CUDA GPU" in seen.get("cuda_error", ""),
            seen.get("cuda_error", "loaded, although no GPU is visible"),
        ),
    ]


def scenario(root: Path, gpu_count: int) -> list[Check]:
    env = isolated_env(root)
    done = run_flow(root, env)
    checks = [
        Check(
            "`python gpu_flow.py run` without `--gpus` succeeds (GPUs detected)",
            done.returncode == 0,
            "" if done.returncode == 0 else _tail(done.stderr),
        )
    ]
    if done.returncode:
        return checks
    on_gpu = read_back(root, env)
    if isinstance(on_gpu, str):
        return [*checks, Check("read back where the GPU is visible", False, on_gpu)]
    checks += gpu_checks(on_gpu, gpu_count)
    on_cpu = read_back(root, {**env, "CUDA_VISIBLE_DEVICES": ""})
    if isinstance(on_cpu, str):
        return [*checks, Check('read back with CUDA_VISIBLE_DEVICES=""', False, on_cpu)]
    return checks + cpu_only_checks(on_cpu, on_gpu)


def report(checks: list[Check], gpus: list[str]) -> str:
    """The markdown report: the checks run on `gpus` (none: not run), then the CPU part."""
    import torch

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=GPU_DIR,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    where = ", ".join(gpus) if gpus else "a machine without a GPU"
    lines = [
        "# GPU check (issue 10)",
        "",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit `{commit or 'unknown'}` "
        f"by `python -m benchmarks.gpu.check`, on {where}; Python "
        f"{platform.python_version()}, PyTorch {torch.__version__}.",
        "",
    ]
    if not gpus:
        lines += [
            "**Not run on a GPU**: no machine with an NVIDIA GPU was available, so what needs "
            "one (last section) has not been verified yet. Run `python -m benchmarks.gpu.check` "
            "on such a machine to replace this file with its results.",
            "",
        ]
    else:
        lines += ["| check | result | detail |", "|---|---|---|"]
        for check in checks:
            detail = check.detail.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {check.name} | {'PASS' if check.passed else 'FAIL'} | {detail} |")
        lines.append("")
    return "\n".join(lines) + "\n" + CPU_VERIFIED


def _tail(text: str, lines: int = 8) -> str:
    return " / ".join(text.strip().splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu.check", description=__doc__)
    parser.add_argument("--output", type=Path, default=REPORT, help="Where to write the report.")
    parser.add_argument(
        "--report-when-skipped",
        action="store_true",
        help="Without a GPU, still write the report, saying that nothing ran on a GPU.",
    )
    args = parser.parse_args(argv)
    gpus = visible_gpus()
    if not gpus:
        print(
            "no NVIDIA GPU is visible here (nvidia-smi lists none): the GPU check needs one. "
            "Nothing was run."
        )
        if args.report_when_skipped:
            args.output.write_text(report([], gpus))
            print(f"wrote {args.output}, saying so")
        return 0
    with tempfile.TemporaryDirectory(prefix="shipyard-gpu-check-") as tmp:
        checks = scenario(Path(tmp), len(gpus))
    text = report(checks, gpus)
    args.output.write_text(text)
    print(text)
    return 0 if all(check.passed for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
