"""The ``resource`` event: a CPU/GPU/memory sample, validated by the wire schema."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from mlpulse.domain.events import EVENT_KINDS, MAX_GPUS, Event, Resource


def _decode(**fields: Any) -> Event:
    body = msgspec.msgpack.encode({"kind": "resource", **fields})
    event: Event = msgspec.msgpack.decode(body, type=Event)
    return event


def test_resource_event_decodes_every_field_from_the_union() -> None:
    event = _decode(
        model="fraud",
        version="v3",
        host="web-1",
        pid=4242,
        timestamp=1767225600.0,
        cpu_percent=250.0,  # 2.5 cores
        memory_rss_mb=812.5,
        memory_percent=12.5,
        gpu_utilization=[87, 0.0],
        gpu_memory_used_mb=[1024.0, 0],
    )
    assert event == Resource(
        model="fraud",
        version="v3",
        host="web-1",
        pid=4242,
        timestamp=1767225600.0,
        cpu_percent=250.0,
        memory_rss_mb=812.5,
        memory_percent=12.5,
        gpu_utilization=[87.0, 0.0],
        gpu_memory_used_mb=[1024.0, 0.0],
    )
    assert "resource" in EVENT_KINDS


def test_resource_event_needs_no_field_but_its_kind() -> None:
    assert _decode() == Resource()


def test_resource_event_round_trips_through_json_and_msgpack() -> None:
    event = Resource(host="h", pid=1, cpu_percent=1.5, gpu_utilization=[3.0])
    for codec in (msgspec.json, msgspec.msgpack):
        assert codec.decode(codec.encode(event), type=Event) == event


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"cpu_percent": -1.0}, "$.cpu_percent"),
        ({"cpu_percent": math.nan}, "$.cpu_percent"),
        ({"memory_rss_mb": math.inf}, "$.memory_rss_mb"),
        ({"memory_percent": 100.5}, "$.memory_percent"),
        ({"memory_percent": -0.1}, "$.memory_percent"),
        ({"gpu_utilization": [50.0, 101.0]}, "$.gpu_utilization[1]"),
        ({"gpu_utilization": [math.nan]}, "$.gpu_utilization[0]"),
        ({"gpu_memory_used_mb": [-5.0]}, "$.gpu_memory_used_mb[0]"),
        ({"gpu_utilization": [1.0] * (MAX_GPUS + 1)}, "$.gpu_utilization"),
        ({"gpu_utilization": 50.0}, "$.gpu_utilization"),
        ({"pid": -1}, "$.pid"),
        ({"pid": 2**63}, "$.pid"),
        ({"pid": 1.5}, "$.pid"),
        ({"host": ""}, "$.host"),
        ({"model": "m" * 201}, "$.model"),
        ({"timestamp": 1767225600000.0}, "$.timestamp"),
    ],
)
def test_resource_event_rejects_a_bad_value_naming_its_field(
    fields: dict[str, Any], path: str
) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        _decode(**fields)
    assert str(caught.value).endswith(f"`{path}`")


def test_resource_event_forbids_unknown_fields() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `cpu`"):
        _decode(cpu=5.0)
