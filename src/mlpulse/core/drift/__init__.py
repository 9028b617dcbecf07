"""Drift statistics: one statistic per module.

``numeric``: two samples of numbers (arrays). ``categorical``: two sets of category counts,
so the same functions serve raw data and mergeable profiles.
"""
