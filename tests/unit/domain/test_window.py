from __future__ import annotations

import pytest

from mlpulse.domain.window import parse_duration
from mlpulse.errors import InvalidInputError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("1.5h", 5400.0), ("7d", 604800.0),
     ("2w", 1209600.0), (" 10m ", 600.0)],
)  # fmt: skip
def test_parse_duration_reads_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "5y", "-5m", "0s", "1h30m"])
def test_parse_duration_names_the_field_when_text_is_not_a_duration(text: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_duration(text, field="window")
    assert info.value.field == "window"
