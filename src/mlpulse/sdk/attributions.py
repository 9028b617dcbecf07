"""Feature attributions (SHAP values and the like) sent as extra numeric features.

An attribution of feature ``amount`` travels as the feature ``attr:amount``, so the
collector stores, profiles (per minute) and drift-checks attributions exactly as it
does features, with no change to the wire schema or the store: a model that starts
leaning on another feature shows up as drift in ``attr:<feature>``.

Unlike the rest of the hot path this checks its input, because a NaN here would be
stored as a *missing* feature value (see :mod:`mlpulse.domain.events`) and quietly
skew the data-quality figures instead of being refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any, Final

from mlpulse.errors import parameter_error

ATTRIBUTION_PREFIX: Final = "attr:"
_OWNER: Final = "Client.log_prediction"
_EXPECTED: Final = "a mapping of feature names (str) to finite numbers"


def attribution_features(
    attributions: Mapping[str, float], features: Mapping[str, Any] | None = None
) -> dict[str, float]:
    """``{"amount": 0.3}`` → ``{"attr:amount": 0.3}``; ParameterError on a bad entry.

    A name that ``features`` already has is an error rather than overwritten.

    >>> attribution_features({"amount": 0.25, "country": -1})
    {'attr:amount': 0.25, 'attr:country': -1.0}
    """
    try:
        items = list(attributions.items())
    except (AttributeError, TypeError) as exc:
        raise parameter_error("attributions", _OWNER, _EXPECTED, attributions) from exc
    out: dict[str, float] = {}
    for name, value in items:
        number = _finite(value)
        if not isinstance(name, str) or number is None:
            raise parameter_error("attributions", _OWNER, _EXPECTED, {name: value})
        out[ATTRIBUTION_PREFIX + name] = number
    if features is not None:
        try:
            clash = next((name for name in out if name in features), None)
        except TypeError:  # not a mapping: the collector rejects the event, naming the field
            clash = None
        if clash is not None:
            raise parameter_error(
                "attributions",
                _OWNER,
                f"free of names that clash with features (features has {clash!r})",
                dict(items),
            )
    return out


def _finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite real number (numpy scalars too), else None."""
    if value.__class__ is not float:
        if isinstance(value, bool) or not isinstance(value, Real):
            return None
        value = float(value)
    return value if math.isfinite(value) else None
