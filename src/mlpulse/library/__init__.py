"""Library mode: drift and quality reports from two datasets, in a notebook or a CI job."""

from mlpulse.library.report import Report, report

__all__ = ["Report", "report"]
