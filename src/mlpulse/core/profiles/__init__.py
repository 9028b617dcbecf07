"""Mergeable profiles of datasets and time windows (Apache DataSketches)."""

from mlpulse.core.profiles.categorical import CategoricalProfile
from mlpulse.core.profiles.numeric import NumericProfile
from mlpulse.core.profiles.profile import ColumnKind, ColumnProfile, Profile

__all__ = ["CategoricalProfile", "ColumnKind", "ColumnProfile", "NumericProfile", "Profile"]
