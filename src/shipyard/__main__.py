"""`python -m shipyard ...`: the `shipyard` command, where its script is not on PATH."""

from shipyard.cli.main import main

if __name__ == "__main__":
    main()
