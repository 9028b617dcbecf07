"""Process events every live client must follow: interpreter exit and ``os.fork``.

Both hooks are installed once, when the first client is made (not at import), and
reach shippers through a weak set, so they never keep a client alive. A shipper
whose thread still runs stays in the set because its thread holds it, which is
what lets the exit hook finish the work of a client that was garbage collected
without being closed.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref

from mlpulse.sdk.shipper import Shipper

_shippers: weakref.WeakSet[Shipper] = weakref.WeakSet()
_install_lock = threading.Lock()
_installed = False


def manage(shipper: Shipper) -> None:
    """Close ``shipper`` at interpreter exit and restart it in forked children."""
    global _installed
    with _install_lock:
        if not _installed:
            atexit.register(_stop_all_at_exit)
            os.register_at_fork(after_in_child=_reset_all_in_child)
            _installed = True
        _shippers.add(shipper)


def forget(shipper: Shipper) -> None:
    """Stop following a shipper that was closed."""
    _shippers.discard(shipper)


def _stop_all_at_exit() -> None:
    shippers = list(_shippers)
    # Stop them all first so they ship in parallel; the joins then take about the
    # longest exit timeout, not the sum.
    for shipper in shippers:
        shipper.stop(shipper.exit_timeout)
    for shipper in shippers:
        shipper.join(shipper.exit_timeout)


def _reset_all_in_child() -> None:
    global _install_lock
    # Another thread may have held the lock at the fork; in the child it would stay held.
    _install_lock = threading.Lock()
    for shipper in list(_shippers):
        shipper.reset_after_fork()
