"""The whole exception tree of mlpulse.

::

    MlpulseError
    ├── ParameterError        a bad argument to one of our functions or classes
    ├── ConfigurationError    bad settings (environment, files, command line)
    ├── InvalidInputError     data sent to us that we cannot accept
    │   ├── MalformedBodyError    the body does not parse (carries the byte position)
    │   ├── PayloadTooLargeError  the body is over the size limit
    │   ├── UnsupportedMediaTypeError
    │   ├── ConflictError         the current state forbids it (a second owner, a stale approval)
    │   └── RateLimitedError      more than a limit allows per unit of time; retry later
    ├── AuthError
    │   ├── UnauthenticatedError  no key, or a key we do not know
    │   └── ForbiddenError        a known key without the scope the action needs
    ├── NotFoundError         a model, key or other named thing that does not exist
    └── StoreError            the store failed; the caller may retry
        ├── StoreBusyError        the write queue is full; retry shortly
        └── StoreClosedError

Services raise these; the HTTP layer maps them to status codes in one table
(``mlpulse.server.errors``). Adapters turn third-party errors into ours with
``raise ... from exc`` in one place each.
"""

from __future__ import annotations


class MlpulseError(Exception):
    """Root of every error mlpulse raises on purpose."""


class ParameterError(MlpulseError, ValueError):
    """A bad argument: raised at once, with one message format.

    Use :func:`parameter_error` to build the message.
    """


def parameter_error(name: str, owner: str, expected: str, got: object) -> ParameterError:
    """The one message format for bad parameters.

    >>> str(parameter_error("batch_size", "Client", "an int in [1, 100000]", 0))
    "The 'batch_size' parameter of Client must be an int in [1, 100000]. Got 0 instead."
    """
    return ParameterError(
        f"The {name!r} parameter of {owner} must be {expected}. Got {got!r} instead."
    )


class ConfigurationError(MlpulseError):
    """Settings that cannot work (environment variables, files, flags)."""


class InvalidInputError(MlpulseError):
    """Input we cannot accept. ``field`` names where the problem is, when known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class MalformedBodyError(InvalidInputError):
    """The request body does not parse as the declared content type."""


class PayloadTooLargeError(InvalidInputError):
    """The request body is larger than the configured limit."""


class RateLimitedError(InvalidInputError):
    """More requests (or items) than a limit allows per unit of time; retry later."""


class UnsupportedMediaTypeError(InvalidInputError):
    """The request declares a content type we do not read."""


class ConflictError(InvalidInputError):
    """The request conflicts with the current state: the model is steered by another job,
    the approval was decided already or is no longer valid."""


class AuthError(MlpulseError):
    """Authentication or authorisation failed."""


class UnauthenticatedError(AuthError):
    """No API key, or one we do not know (or that was revoked)."""


class ForbiddenError(AuthError):
    """A valid API key without the scope the action needs."""


class NotFoundError(MlpulseError):
    """A named thing (model, key, ...) does not exist."""


class StoreError(MlpulseError):
    """The store failed to do what was asked; nothing was acknowledged."""


class StoreClosedError(StoreError):
    """The store is closed (shutting down, or never opened)."""


class StoreBusyError(StoreError):
    """The store's write queue is full; the caller should retry shortly."""


class ConfigProblem:
    """One problem in a configuration document: where it is and what is wrong.

    ``path`` is the dotted place in the document (``monitors.fraud-drift.window``);
    ``file`` and ``line`` are filled in when the document came from a file.

    >>> str(ConfigProblem("monitors.m.window", "must be a duration", file="a.yaml", line=7))
    'a.yaml:7: monitors.m.window: must be a duration'
    """

    __slots__ = ("file", "line", "message", "path")

    def __init__(
        self, path: str, message: str, *, file: str | None = None, line: int | None = None
    ) -> None:
        self.path = path
        self.message = message
        self.file = file
        self.line = line

    def _key(self) -> tuple[str | None, int | None, str, str]:
        return (self.file, self.line, self.path, self.message)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigProblem) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"ConfigProblem(path={self.path!r}, message={self.message!r}, "
            f"file={self.file!r}, line={self.line!r})"
        )

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        return ": ".join(part for part in (where, self.path, self.message) if part)


class ConfigFileError(ConfigurationError):
    """A configuration document (``mlpulse.yaml``) with problems; ``problems`` lists all.

    >>> error = ConfigFileError([ConfigProblem("version", "must be 1", file="m.yaml")])
    >>> str(error)
    'm.yaml: version: must be 1'
    """

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        lines = [f"  {problem}" for problem in self.problems]
        files = {problem.file for problem in self.problems}
        source = f" in {files.pop()}" if len(files) == 1 and None not in files else ""
        if len(lines) == 1:
            message = lines[0].strip()
        else:
            message = f"{len(lines)} problems{source}:\n" + "\n".join(lines)
        super().__init__(message)
