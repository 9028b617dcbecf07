"""Annotation templates, in Prometheus' notation: ``{{ $labels.model }}``, ``{{ $value }}``.

Only these two are understood (``$value`` is written with four significant digits); an
unknown label renders empty, as in Prometheus. Nothing else is evaluated: templates come
from configuration files, and a template engine would be code in them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_FIELD = re.compile(r"\{\{\s*\$(labels\.([A-Za-z_][A-Za-z0-9_]*)|value)\s*\}\}")


def render(templates: Mapping[str, str], labels: Mapping[str, str], value: float) -> dict[str, str]:
    """Each template with its fields filled in.

    >>> render({"summary": "{{ $labels.model }} drifted: {{ $value }}"}, {"model": "fraud"}, 0.31)
    {'summary': 'fraud drifted: 0.31'}
    """
    shown = "NaN" if math.isnan(value) else f"{value:.4g}"

    def fill(match: re.Match[str]) -> str:
        return shown if match.group(1) == "value" else labels.get(match.group(2), "")

    return {name: _FIELD.sub(fill, text) for name, text in templates.items()}
