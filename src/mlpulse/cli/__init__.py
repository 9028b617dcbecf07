"""The ``mlpulse`` command line."""
