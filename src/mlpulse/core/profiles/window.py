"""The profile of one model version's predictions over a window: what the evaluator reads.

A :class:`WindowProfile` holds the feature profile, the output profile (``prediction``
and ``score`` columns), a latency sketch and the request and error counts. The window
aggregator keeps one per (model, version, segment, minute); any longer window is a
merge of minutes, so its cost does not grow with traffic. Partial profiles of the same
minute written by several collectors merge to the profile of all their events.

Size: the feature part is bounded as :class:`~mlpulse.core.profiles.profile.Profile`
says (under 6 KB per numeric column, under 64 KB per categorical one); the latency
sketch and the outputs add at most two numeric columns and one categorical column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from mlpulse.core.profiles.numeric import NumericProfile
from mlpulse.core.profiles.profile import Profile
from mlpulse.errors import parameter_error

__all__ = ["WindowProfile"]

_FORMAT_VERSION = 1


class _WindowEnvelope(msgspec.Struct, array_like=True, frozen=True):
    version: int
    requests: int
    errors: int
    features: bytes
    outputs: bytes
    latency: bytes


def _envelope(data: bytes, where: str) -> _WindowEnvelope:
    try:
        envelope = msgspec.msgpack.decode(data, type=_WindowEnvelope)
    except msgspec.DecodeError as exc:
        raise parameter_error(
            "data", where, "bytes from WindowProfile.to_bytes", data[:16]
        ) from exc
    if envelope.version != _FORMAT_VERSION:
        raise parameter_error("data", where, f"format version {_FORMAT_VERSION}", envelope.version)
    return envelope


class WindowProfile:
    """Features, outputs, latency, requests and errors of a set of predictions.

    Build one with :meth:`from_columns` (or :meth:`empty`); :meth:`merge` returns a new
    profile and leaves both inputs unchanged.

    Examples
    --------
    >>> a = WindowProfile.from_columns(
    ...     {"amount": np.array([10.0, 20.0])}, {"amount": "numeric"},
    ...     prediction=np.array(["ok", "fraud"], dtype=object), score=np.array([0.1, 0.9]),
    ...     latency_ms=np.array([3.0, 5.0]), errors=np.array([False, True]),
    ... )
    >>> b = WindowProfile.from_columns({"amount": np.array([30.0])}, {"amount": "numeric"})
    >>> m = a.merge(b)
    >>> m.requests, m.errors, m.features["amount"].mean, m.latency.count
    (3, 1, 20.0, 2)
    >>> m.outputs["prediction"].counts()
    {'fraud': 1, 'ok': 1}
    >>> WindowProfile.from_bytes(m.to_bytes()) == m
    True
    """

    __slots__ = ("_errors", "_features", "_latency", "_outputs", "_requests")

    def __init__(
        self,
        *,
        features: Profile,
        outputs: Profile,
        latency: NumericProfile,
        requests: int,
        errors: int,
    ) -> None:
        for name, count in (("requests", requests), ("errors", errors)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise parameter_error(name, "WindowProfile", "an int >= 0", count)
        if errors > requests:
            raise parameter_error("errors", "WindowProfile", f"at most requests={requests}", errors)
        self._features = features
        self._outputs = outputs
        self._latency = latency
        self._requests = requests
        self._errors = errors

    @classmethod
    def empty(cls) -> WindowProfile:
        """The profile of no predictions: the identity of :meth:`merge`."""
        return cls(
            features=Profile.empty(),
            outputs=Profile.empty(),
            latency=NumericProfile(),
            requests=0,
            errors=0,
        )

    @classmethod
    def from_columns(
        cls,
        features: Mapping[str, npt.ArrayLike],
        kinds: Mapping[str, str],
        *,
        prediction: npt.ArrayLike | None = None,
        score: npt.ArrayLike | None = None,
        latency_ms: npt.ArrayLike | None = None,
        errors: npt.ArrayLike | None = None,
        rows: int | None = None,
    ) -> WindowProfile:
        """Profile ``rows`` predictions given column by column.

        ``features`` and ``kinds`` are as for :meth:`Profile.from_columns`. A
        ``prediction`` array of numbers is profiled as a numeric column, anything else
        (class names, flags) as a categorical one; ranked lists are not profiled.
        ``errors`` marks the predictions that failed. ``rows`` defaults to the length of
        the first column given.
        """
        columns = (*features.values(), prediction, score, latency_ms, errors)
        first = next((c for c in columns if c is not None), None)
        n = rows if rows is not None else (0 if first is None else len(np.asarray(first, object)))
        outputs: dict[str, npt.ArrayLike] = {}
        output_kinds: dict[str, str] = {}
        if prediction is not None:
            values = np.asarray(prediction, dtype=object)
            # Decided by the values' types, each looked at once (not once per row).
            present = set(map(type, values.tolist())) - {type(None)}
            if not any(issubclass(t, list) for t in present):
                numeric = bool(present) and all(
                    issubclass(t, int | float) and not issubclass(t, bool) for t in present
                )
                outputs["prediction"] = values
                output_kinds["prediction"] = "numeric" if numeric else "categorical"
        if score is not None:
            outputs["score"] = np.asarray(score, dtype=np.float64)
            output_kinds["score"] = "numeric"
        latency = NumericProfile()
        if latency_ms is not None:
            latency.update_many(np.asarray(latency_ms, dtype=np.float64))
        failed = 0 if errors is None else int(np.count_nonzero(np.asarray(errors, dtype=bool)))
        output_profile = Profile.from_columns(outputs, output_kinds) if outputs else Profile.empty()
        feature_profile = Profile.from_columns(features, kinds) if features else Profile.empty()
        return cls(
            features=_with_rows(feature_profile, n),
            outputs=_with_rows(output_profile, n),
            latency=latency,
            requests=n,
            errors=failed,
        )

    # ------------------------------------------------------------------ reading

    @property
    def features(self) -> Profile:
        return self._features

    @property
    def outputs(self) -> Profile:
        """Columns ``prediction`` and ``score``, when the predictions had them."""
        return self._outputs

    @property
    def latency(self) -> NumericProfile:
        """Latency in milliseconds of the predictions that carried one (``count``)."""
        return self._latency

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def errors(self) -> int:
        return self._errors

    @property
    def size_bytes(self) -> int:
        return len(self.to_bytes())

    # ------------------------------------------------------------------ merge

    def merge(self, other: WindowProfile) -> WindowProfile:
        """The profile of both sets of predictions (a new object)."""
        if not isinstance(other, WindowProfile):
            raise parameter_error("other", "WindowProfile.merge", "a WindowProfile", other)
        # A profile of no requests is the identity: copy the other side as it is (a KLL
        # merge with an empty sketch would rewrite the sketch's bytes, not its content).
        if other._requests == 0 or self._requests == 0:
            return WindowProfile.from_bytes((self if other._requests == 0 else other).to_bytes())
        return WindowProfile(
            features=self._features.merge(other._features),
            outputs=self._outputs.merge(other._outputs),
            latency=self._latency.merge(other._latency),
            requests=self._requests + other._requests,
            errors=self._errors + other._errors,
        )

    def __add__(self, other: WindowProfile) -> WindowProfile:
        return self.merge(other)

    @classmethod
    def merge_all(cls, profiles: Sequence[WindowProfile]) -> WindowProfile:
        """The profile of every input's predictions: each column merged once.

        This is how a window is made of its minutes (sixty merges into one accumulator
        per column, instead of sixty intermediate profiles).
        """
        profiles = [p for p in profiles if p._requests]
        if len(profiles) <= 1:
            return WindowProfile.from_bytes(profiles[0].to_bytes()) if profiles else cls.empty()
        return cls(
            features=Profile.merge_all([p._features for p in profiles]),
            outputs=Profile.merge_all([p._outputs for p in profiles]),
            latency=NumericProfile.merge_all([p._latency for p in profiles]),
            requests=sum(p._requests for p in profiles),
            errors=sum(p._errors for p in profiles),
        )

    # ------------------------------------------------------------------ bytes

    def to_bytes(self) -> bytes:
        return msgspec.msgpack.encode(
            _WindowEnvelope(
                version=_FORMAT_VERSION,
                requests=self._requests,
                errors=self._errors,
                features=self._features.to_bytes(),
                outputs=self._outputs.to_bytes(),
                latency=self._latency.to_bytes(),
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowProfile:
        """Read a profile written by :meth:`to_bytes`.

        Raises
        ------
        ParameterError
            If ``data`` is not a window profile of a format version we read.
        """
        envelope = _envelope(data, "WindowProfile.from_bytes")
        return cls(
            features=Profile.from_bytes(envelope.features),
            outputs=Profile.from_bytes(envelope.outputs),
            latency=NumericProfile.from_bytes(envelope.latency),
            requests=envelope.requests,
            errors=envelope.errors,
        )

    @staticmethod
    def traffic_from_bytes(data: bytes) -> tuple[int, int, NumericProfile]:
        """(requests, errors, latency) of a profile written by :meth:`to_bytes`, without
        reading its columns (what an SLO counts: much cheaper than :meth:`from_bytes`).

        >>> p = WindowProfile.from_columns({"x": [1.0, 2.0]}, {"x": "numeric"},
        ...                                latency_ms=[3.0, 5.0], errors=[False, True])
        >>> requests, errors, latency = WindowProfile.traffic_from_bytes(p.to_bytes())
        >>> requests, errors, latency.count
        (2, 1, 2)
        """
        envelope = _envelope(data, "WindowProfile.traffic_from_bytes")
        return envelope.requests, envelope.errors, NumericProfile.from_bytes(envelope.latency)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WindowProfile):
            return NotImplemented
        return (
            self._requests == other._requests
            and self._errors == other._errors
            and self._features == other._features
            and self._outputs == other._outputs
            and self._latency == other._latency
        )

    __hash__ = None  # type: ignore[assignment]  # compared by content, not hashable

    def __repr__(self) -> str:
        return (
            f"WindowProfile(requests={self._requests}, errors={self._errors}, "
            f"features={sorted(self._features)!r})"
        )


def _with_rows(profile: Profile, rows: int) -> Profile:
    """``profile`` counting ``rows`` rows (columns absent from a block still count them)."""
    if profile.row_count == rows:
        return profile
    return Profile({n: profile[n] for n in profile}, profile.kinds, row_count=rows)
