"""Printed at the end of `make demo`: how to look at what the demo produced."""

from __future__ import annotations


def main() -> None:
    print(
        "\nThe demo run is stored in examples/.shipyard. Look at it with:\n"
        "  cd examples\n"
        "  ../.venv/bin/shipyard runs TrainFlow\n"
        "  ../.venv/bin/shipyard show TrainFlow/<run id>\n"
        "  ../.venv/bin/shipyard artifacts TrainFlow/<run id>/end/<task id>\n"
        '  ../.venv/bin/python -c "from shipyard import Flow; '
        "print(Flow('TrainFlow').latest_run.data.test_score)\"\n"
    )


if __name__ == "__main__":
    main()
