"""Running several collector replicas: leader election, change hints, the detectors' log."""
