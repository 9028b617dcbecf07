"""Annotation templates, in Prometheus' notation: ``{{ $labels.model }}``, ``{{ $value }}``.

Only these are understood (``$value`` is written with four significant digits); an
unknown label renders empty, as in Prometheus. One more field names what a drift alert
is about: ``{{ $drifted_columns }}``, the columns of the check whose drift is at warning
or critical, worst first ("amount, country"; empty for a series of no drift check).
Nothing else is evaluated: templates come from configuration files, and a template
engine would be code in them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

_FIELD = re.compile(r"\{\{\s*\$(labels\.([A-Za-z_][A-Za-z0-9_]*)|value|drifted_columns)\s*\}\}")
DRIFTED_COLUMNS = "$drifted_columns"


def uses_drifted_columns(templates: Mapping[str, str]) -> bool:
    """Whether a template names ``{{ $drifted_columns }}`` (only then are they looked up)."""
    return any(DRIFTED_COLUMNS in text for text in templates.values())


def render(
    templates: Mapping[str, str],
    labels: Mapping[str, str],
    value: float,
    *,
    drifted: Sequence[str] = (),
) -> dict[str, str]:
    """Each template with its fields filled in (``drifted``: the drifted columns).

    >>> render({"summary": "{{ $labels.model }} drifted: {{ $value }}"}, {"model": "fraud"}, 0.31)
    {'summary': 'fraud drifted: 0.31'}
    >>> render({"summary": "drifted: {{ $drifted_columns }}"}, {}, 0.5, drifted=["amount", "age"])
    {'summary': 'drifted: amount, age'}
    """
    shown = "NaN" if math.isnan(value) else f"{value:.4g}"

    def fill(match: re.Match[str]) -> str:
        if match.group(1) == "value":
            return shown
        if match.group(1) == "drifted_columns":
            return ", ".join(drifted)
        return labels.get(match.group(2), "")

    return {name: _FIELD.sub(fill, text) for name, text in templates.items()}
