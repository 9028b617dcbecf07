"""Mergeable profiles of datasets and time windows (Apache DataSketches)."""
