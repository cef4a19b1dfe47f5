"""The floor for the artifacts benchmark: the same array through plain `numpy.save`/`load`.

Same array (same generator and seed) as `artifact_flow.py`, written to the working
directory, dropped, read back whole (no memory map) and summed.
"""

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="Size of the array in MiB.")
    args = parser.parse_args()
    path = Path("array.npy")
    data = np.random.default_rng(0).random(args.mib * 2**20 // 8)
    np.save(path, data)
    del data
    total = float(np.load(path).sum())
    print("sum", total)


if __name__ == "__main__":
    main()
