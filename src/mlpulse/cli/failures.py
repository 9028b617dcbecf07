"""How the command line reports a failure: one line ``error: <cause>`` (and a hint),
exit 1; the traceback only with the global ``--debug`` option.

This module imports nothing beyond the standard library, so that :func:`main` can say
which extra is missing when the command line's own dependencies are not installed.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Final

# The extra that brings each module a command may miss (any other: "server").
_EXTRA_OF: Final = {
    "psycopg": "postgres",
    "psycopg_pool": "postgres",
    "numpy": "analysis",
    "scipy": "analysis",
    "sklearn": "analysis",
    "datasketches": "analysis",
}


def missing_module_hint(name: str | None) -> str:
    """``pip install 'mlpulse[<extra>]'`` for a module that failed to import."""
    top = (name or "").split(".", 1)[0]
    return f"install it with: pip install 'mlpulse[{_EXTRA_OF.get(top, 'server')}]'"


def debug_in(argv: Sequence[str]) -> bool:
    """Whether ``--debug`` comes before the command name (it is a global option)."""
    for arg in argv:
        if arg == "--debug":
            return True
        if not arg.startswith("-"):
            return False
    return False


def debug_requested(ctx: Any) -> bool:
    """The global ``--debug`` option, from a command's click context."""
    return bool(ctx.find_root().params.get("debug"))


def run(command: Callable[[], object], argv: Sequence[str] | None = None) -> None:
    """Run the command line; an unexpected exception becomes one line and exit 1."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        command()
    except ModuleNotFoundError as exc:
        if debug_in(argv):
            raise
        _say(f"no module named {exc.name!r}; {missing_module_hint(exc.name)}")
        sys.exit(1)
    except Exception as exc:
        if debug_in(argv):
            traceback.print_exception(exc)
            sys.exit(1)
        # mlpulse's own errors say what is wrong; others keep their type's name.
        from mlpulse.errors import MlpulseError

        cause = str(exc) if isinstance(exc, MlpulseError) else f"{type(exc).__name__}: {exc}"
        _say(f"{cause} (run with --debug for the traceback)")
        sys.exit(1)


def _say(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
