"""The checks after decoding: printable names, and the limits on models and features.

msgspec checks each value's type and length in C; what it cannot check cheaply is
that a name has no control character (a regular expression per name tripled the cost
of decoding row events) or that a model stays within its limits, which depends on what
earlier batches brought. Both run here, once per block (its model, version and feature
names) or per row event, before anything reaches the store: a refused event is a
rejection naming its field, and a bad name never reaches (and never fails) a group
commit shared with other clients.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, Protocol

from mlpulse.domain.events import Event, Label, Outcome, Prediction, PredictionBlock
from mlpulse.domain.ingest import Rejection
from mlpulse.domain.names import PrintableNames, refusal
from mlpulse.server.ingest.decode import DecodedBatch, block_rejections

Admit = Callable[[str, Collection[str]], "tuple[str, str] | None"]


class Limits(Protocol):
    """What :class:`mlpulse.services.ingest.SchemaTracker` offers the screen."""

    def admit(self, model: str, names: Collection[str]) -> tuple[str, str] | None: ...

    def admitted(self, model: str) -> set[str] | None: ...


def screen(decoded: DecodedBatch, names: PrintableNames, limits: Limits) -> DecodedBatch:
    """``decoded`` without the events and blocks whose names or limits are refused."""
    refused: list[Rejection] = []
    events: list[Event] = []
    indexes: list[int] = []
    admit = limits.admit
    admitted = limits.admitted
    known = names.known
    for index, event in zip(decoded.event_indexes, decoded.events, strict=True):
        if event.__class__ is Prediction:
            # The usual row, inline (function calls per check cost 2-3 µs an event): its
            # model and version printable before, and every feature name one the model
            # was admitted with, which were found printable then.
            assert isinstance(event, Prediction)
            features = admitted(event.model)
            if (
                features is not None
                and event.segment is None
                and event.features.keys() <= features
                and known(event.model)
                and known(event.version)
            ):
                events.append(event)
                indexes.append(index)
                continue
        problem = _event_problem(event, names, admit)
        if problem is None:
            events.append(event)
            indexes.append(index)
        else:
            refused.append(Rejection(index, f"events[{index}].{problem[0]}", problem[1]))
    blocks: list[PredictionBlock] = []
    places: list[tuple[int, Sequence[int]]] = []
    for block, (b, rows) in zip(decoded.blocks, decoded.block_places, strict=True):
        problem = _block_problem(block, names, admit)
        if problem is None:
            blocks.append(block)
            places.append((b, rows))
        else:
            refused.extend(block_rejections(b, problem[0], problem[1], rows))
    if not refused:
        return decoded
    rejected = sorted([*decoded.rejected, *refused], key=lambda r: r.index)
    return DecodedBatch(decoded.batch_id, events, blocks, rejected, indexes, places)


def _named(fields: Iterable[tuple[str, str | None]]) -> Iterator[tuple[str, str]]:
    return ((field, name) for field, name in fields if name is not None)


def _first_unprintable(
    names: PrintableNames, fields: Iterable[tuple[str, str]]
) -> tuple[str, str] | None:
    for field, name in fields:
        if names.first_bad((name,)) is not None:
            return field, refusal(name)
    return None


def _segment_problem(
    names: PrintableNames, segment: dict[str, str] | None, field: str
) -> tuple[str, str] | None:
    if not segment:
        return None
    bad = names.first_bad(segment) or names.first_bad(segment.values())
    return None if bad is None else (field, refusal(bad))


def _event_problem(event: Event, names: PrintableNames, admit: Admit) -> tuple[str, str] | None:
    kind = type(event)
    if kind is Prediction:
        assert isinstance(event, Prediction)
        fixed = _first_unprintable(names, (("model", event.model), ("version", event.version)))
        if fixed is not None:
            return fixed
        bad = names.first_bad(event.features)
        if bad is not None:
            return f"features.{bad}", refusal(bad)
        problem = _segment_problem(names, event.segment, "segment")
        return problem if problem is not None else admit(event.model, event.features.keys())
    fields: Iterable[tuple[str, str | None]]
    if kind is Outcome:
        assert isinstance(event, Outcome)
        fields = (("name", event.name), ("model", event.model), ("version", event.version))
    elif kind is Label:
        assert isinstance(event, Label)
        fields = (("model", event.model), ("version", event.version))
    else:
        resource: Any = event
        fields = (("model", resource.model), ("version", resource.version))
    return _first_unprintable(names, _named(fields))


def _block_problem(
    block: PredictionBlock, names: PrintableNames, admit: Admit
) -> tuple[str, str] | None:
    fixed = _first_unprintable(names, (("model", block.model), ("version", block.version)))
    if fixed is not None:
        return fixed
    bad = names.first_bad(block.features)
    if bad is not None:
        return f"features.{bad}", refusal(bad)
    for row, segment in enumerate(block.segment or ()):
        problem = _segment_problem(names, segment, f"segment[{row}]")
        if problem is not None:
            return problem
    return admit(block.model, block.features.keys())
