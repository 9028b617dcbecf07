"""The profile of a set of events: one mergeable column profile per column, and the rows.

Per-minute profiles are built by the window aggregator, written to the store with
:meth:`Profile.to_bytes` and merged into any window later; ``a.merge(b)`` equals the
profile of the union of both sets of events within the sketches' error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from mlpulse.core.profiles.categorical import CategoricalProfile
from mlpulse.core.profiles.numeric import NumericProfile
from mlpulse.errors import parameter_error

__all__ = ["ColumnKind", "ColumnProfile", "Profile"]

ColumnKind = Literal["numeric", "categorical", "boolean"]
ColumnProfile = NumericProfile | CategoricalProfile

_KINDS: tuple[ColumnKind, ...] = ("numeric", "categorical", "boolean")
_FORMAT_VERSION = 1


class _ColumnEnvelope(msgspec.Struct, array_like=True, frozen=True):
    name: str
    kind: ColumnKind
    data: bytes


class _ProfileEnvelope(msgspec.Struct, array_like=True, frozen=True):
    version: int
    row_count: int
    columns: list[_ColumnEnvelope]


def _copy(column: ColumnProfile) -> ColumnProfile:
    """An independent copy (the profiles are mutable; a merge must not share state)."""
    if isinstance(column, NumericProfile):
        return NumericProfile.from_bytes(column.to_bytes())
    return CategoricalProfile.from_bytes(column.to_bytes())


class Profile(Mapping[str, ColumnProfile]):
    """A mergeable summary of a set of rows: column name → column profile, and row count.

    Numeric columns get a :class:`NumericProfile`; categorical and boolean columns a
    :class:`CategoricalProfile` (booleans become the categories ``"True"`` and
    ``"False"``). Build one with :meth:`from_columns` or :meth:`empty`; a Profile is not
    changed after it is built, and :meth:`merge` returns a new one.

    Notes
    -----
    Size bound, whatever the row count (defaults): under 6 KB per numeric column (KLL
    k=200; about 5 KB at 1e6 rows) and under 64 KB per categorical or boolean column
    with category names up to 16 bytes (a 4 KB HLL plus at most 1,000 exact counts and
    1,536 sketch entries; a boolean column is well under 1 KB). :attr:`size_bytes` is
    the size of :meth:`to_bytes`.

    Examples
    --------
    >>> import numpy as np
    >>> a = Profile.from_columns(
    ...     {"age": np.array([31.0, 45.0]), "plan": np.array(["free", "pro"])},
    ...     {"age": "numeric", "plan": "categorical"},
    ... )
    >>> b = Profile.from_columns({"age": np.array([52.0])}, {"age": "numeric"})
    >>> merged = a.merge(b)
    >>> merged.row_count, merged["age"].count, round(merged["age"].mean, 2), merged["plan"].count
    (3, 3, 42.67, 2)
    >>> Profile.from_bytes(merged.to_bytes()) == merged
    True
    """

    __slots__ = ("_columns", "_kinds", "_row_count")

    def __init__(
        self,
        columns: Mapping[str, ColumnProfile],
        kinds: Mapping[str, ColumnKind],
        *,
        row_count: int,
    ) -> None:
        if set(columns) != set(kinds):
            raise parameter_error(
                "kinds", "Profile", f"a kind for each column of {sorted(columns)}", dict(kinds)
            )
        for name, kind in kinds.items():
            expected = NumericProfile if kind == "numeric" else CategoricalProfile
            if kind not in _KINDS or not isinstance(columns[name], expected):
                raise parameter_error(
                    "kinds", "Profile", f"the kind of the profile of column {name!r}", kind
                )
        if isinstance(row_count, bool) or not isinstance(row_count, int) or row_count < 0:
            raise parameter_error("row_count", "Profile", "an int >= 0", row_count)
        self._columns = dict(columns)
        self._kinds = dict(kinds)
        self._row_count = row_count

    @classmethod
    def empty(cls) -> Profile:
        """The profile of no rows: the identity of :meth:`merge`.

        Examples
        --------
        >>> Profile.empty().row_count, len(Profile.empty())
        (0, 0)
        """
        return cls({}, {}, row_count=0)

    @classmethod
    def from_columns(
        cls,
        columns: Mapping[str, npt.ArrayLike],
        kinds: Mapping[str, str],
        *,
        k: int = 200,
        lg_max_map_size: int = 11,
        exact_limit: int = 1000,
    ) -> Profile:
        """Profile equal-length columns of values.

        Parameters
        ----------
        columns : mapping of str to array_like
            Column name → one-dimensional values, all of the same length.
        kinds : mapping of str to str
            Column name → ``"numeric"``, ``"categorical"`` or ``"boolean"``, for every
            column in ``columns`` (other names are ignored).
        k, lg_max_map_size, exact_limit : int
            Passed to :class:`NumericProfile` and :class:`CategoricalProfile`.

        Raises
        ------
        ParameterError
            If a column has no kind or an unknown one, or the columns differ in length.

        Examples
        --------
        >>> p = Profile.from_columns({"ok": [True, False, None]}, {"ok": "boolean"})
        >>> p.kinds, p["ok"].counts(), p["ok"].missing
        ({'ok': 'boolean'}, {'False': 1, 'True': 1}, 1)
        """
        profiles: dict[str, ColumnProfile] = {}
        column_kinds: dict[str, ColumnKind] = {}
        row_count: int | None = None
        for name, raw in columns.items():
            kind = kinds.get(name)
            if kind not in _KINDS:
                raise parameter_error(
                    "kinds",
                    "Profile.from_columns",
                    f"a kind in {list(_KINDS)} for column {name!r}",
                    kind,
                )
            values = np.asarray(raw)
            if values.ndim != 1 or (row_count is not None and values.shape[0] != row_count):
                raise parameter_error(
                    "columns",
                    "Profile.from_columns",
                    f"one-dimensional columns of {row_count} values (column {name!r})",
                    values.shape,
                )
            row_count = int(values.shape[0])
            profile: ColumnProfile
            if kind == "numeric":
                profile = NumericProfile(k=k)
            else:
                profile = CategoricalProfile(
                    lg_max_map_size=lg_max_map_size, exact_limit=exact_limit
                )
                if kind == "boolean" and values.dtype.kind in "iu":
                    values = values.astype(bool)  # 0/1 columns: the categories True/False
            profile.update_many(values)
            profiles[name] = profile
            column_kinds[name] = kind
        return cls(profiles, column_kinds, row_count=row_count or 0)

    # ------------------------------------------------------------------ mapping

    def __getitem__(self, name: str) -> ColumnProfile:
        return self._columns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    @property
    def row_count(self) -> int:
        """Rows summarised (a column absent from some rows counts fewer values)."""
        return self._row_count

    @property
    def kinds(self) -> dict[str, ColumnKind]:
        """Column name → kind (a copy)."""
        return dict(self._kinds)

    @property
    def size_bytes(self) -> int:
        """Size of :meth:`to_bytes` in bytes."""
        return len(self.to_bytes())

    # ------------------------------------------------------------------ merge

    def merge(self, other: Profile) -> Profile:
        """The profile of both sets of rows, as a new object; both inputs are unchanged.

        A column present on one side only is kept as it is.

        Raises
        ------
        ParameterError
            If a column has different kinds on the two sides (the message names it).

        Examples
        --------
        >>> a = Profile.from_columns({"x": [1.0]}, {"x": "numeric"})
        >>> b = Profile.from_columns({"x": ["1"]}, {"x": "categorical"})
        >>> a.merge(b)
        Traceback (most recent call last):
        ...
        mlpulse.errors.ParameterError: The 'other' parameter of Profile.merge must be a Profile whose column 'x' is numeric. Got 'categorical' instead.
        """  # noqa: E501
        if not isinstance(other, Profile):
            raise parameter_error("other", "Profile.merge", "a Profile", other)
        for name in self._kinds.keys() & other._kinds.keys():
            if self._kinds[name] != other._kinds[name]:
                raise parameter_error(
                    "other",
                    "Profile.merge",
                    f"a Profile whose column {name!r} is {self._kinds[name]}",
                    other._kinds[name],
                )
        columns: dict[str, ColumnProfile] = {}
        kinds: dict[str, ColumnKind] = {}
        for name in [*self._columns, *(n for n in other._columns if n not in self._columns)]:
            mine, theirs = self._columns.get(name), other._columns.get(name)
            if mine is not None and theirs is not None:
                columns[name] = mine.merge(theirs)  # type: ignore[arg-type]  # kinds equal
            else:
                only = mine if mine is not None else theirs
                assert only is not None
                columns[name] = _copy(only)
            kinds[name] = self._kinds.get(name) or other._kinds[name]
        return Profile(columns, kinds, row_count=self._row_count + other._row_count)

    def __add__(self, other: Profile) -> Profile:
        return self.merge(other)

    @classmethod
    def merge_all(cls, profiles: Sequence[Profile]) -> Profile:
        """The profile of every input's rows, each column merged once (see
        :meth:`NumericProfile.merge_all`): equal to pairwise merges, much cheaper.

        Raises
        ------
        ParameterError
            If a column has different kinds in two inputs.

        Examples
        --------
        >>> parts = [Profile.from_columns({"x": [float(i)]}, {"x": "numeric"}) for i in range(4)]
        >>> merged = Profile.merge_all(parts)
        >>> merged.row_count, merged["x"].mean
        (4, 1.5)
        """
        columns: dict[str, list[ColumnProfile]] = {}
        kinds: dict[str, ColumnKind] = {}
        for profile in profiles:
            for name, kind in profile._kinds.items():
                if kinds.setdefault(name, kind) != kind:
                    raise parameter_error(
                        "profiles",
                        "Profile.merge_all",
                        f"profiles whose column {name!r} is {kinds[name]}",
                        kind,
                    )
                columns.setdefault(name, []).append(profile._columns[name])
        merged: dict[str, ColumnProfile] = {}
        for name, parts in columns.items():
            if kinds[name] == "numeric":
                merged[name] = NumericProfile.merge_all(parts)  # type: ignore[arg-type]  # kind
            else:
                merged[name] = CategoricalProfile.merge_all(parts)  # type: ignore[arg-type]  # kind
        return cls(merged, kinds, row_count=sum(p._row_count for p in profiles))

    # ------------------------------------------------------------------ bytes

    def to_bytes(self) -> bytes:
        """A MessagePack envelope holding each column's own bytes.

        Examples
        --------
        >>> Profile.from_bytes(Profile.empty().to_bytes()) == Profile.empty()
        True
        """
        envelope = _ProfileEnvelope(
            version=_FORMAT_VERSION,
            row_count=self._row_count,
            columns=[
                _ColumnEnvelope(name=name, kind=self._kinds[name], data=column.to_bytes())
                for name, column in self._columns.items()
            ],
        )
        return msgspec.msgpack.encode(envelope)

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        """Read a profile written by :meth:`to_bytes`.

        Raises
        ------
        ParameterError
            If ``data`` is not a profile of a format version we read.
        """
        try:
            envelope = msgspec.msgpack.decode(data, type=_ProfileEnvelope)
        except msgspec.DecodeError as exc:
            raise parameter_error(
                "data", "Profile.from_bytes", "bytes from Profile.to_bytes", data[:16]
            ) from exc
        if envelope.version != _FORMAT_VERSION:
            raise parameter_error(
                "data", "Profile.from_bytes", f"format version {_FORMAT_VERSION}", envelope.version
            )
        columns: dict[str, ColumnProfile] = {}
        kinds: dict[str, ColumnKind] = {}
        for column in envelope.columns:
            if column.kind == "numeric":
                columns[column.name] = NumericProfile.from_bytes(column.data)
            else:
                columns[column.name] = CategoricalProfile.from_bytes(column.data)
            kinds[column.name] = column.kind
        return cls(columns, kinds, row_count=envelope.row_count)

    def __eq__(self, other: object) -> bool:
        """Equal row counts, kinds and column profiles (column order aside)."""
        if not isinstance(other, Profile):
            return NotImplemented
        return (
            self._row_count == other._row_count
            and self._kinds == other._kinds
            and self._columns == other._columns
        )

    __hash__ = None  # type: ignore[assignment]  # compared by content, not hashable

    def __repr__(self) -> str:
        return f"Profile(row_count={self._row_count}, kinds={self._kinds!r})"
