"""``python -m mlpulse``: the command line."""

from mlpulse.cli.main import main

main()
