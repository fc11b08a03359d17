"""A client-side limit on how long a database call may block, for drivers that have none.

libpq (psycopg2) blocks in ``send``/``recv`` for as long as the socket stays open, and a
partitioned network keeps it open: TCP keepalives are answered by whatever still holds the
other end (a NAT box, a proxy, a hung host's kernel), and a server's ``statement_timeout`` cannot
reach a client it is cut off from. :class:`Watchdog` is a thread that watches one connection's
progress and, when a limit passes without any, shuts the socket down (``shutdown(2)``), which
makes the blocked call fail at once; the caller then reports :attr:`Watchdog.reason`.

Two kinds of limits, switched by the caller:

* :meth:`streaming`: rows are being sent; every accepted chunk calls :meth:`progress`, and
  ``stall_s`` without one fires;
* :meth:`waiting`: a statement's answer is awaited; ``answer_s`` in total fires;
* :meth:`idle`: the client is busy (e.g. sorting the rows to send) and the connection waits for
  it: no limit until the next switch.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time

from etl_tasks.core.closing import Closing

_POLL_SECONDS = 0.25


class Watchdog(Closing):
    """Context manager guarding the connection whose socket is file descriptor ``fileno``."""

    def __init__(self, fileno: int, answer_s: float, stall_s: float, what: str) -> None:
        self._fileno, self.answer_s, self.stall_s, self.what = fileno, answer_s, stall_s, what
        self._limit = answer_s
        self._since = time.monotonic()
        self._kind = "answer"
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="db-watchdog", daemon=True)
        self.reason: str | None = None  # set when the watchdog cut the connection

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop watching (the ``with`` block is over)."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def waiting(self) -> None:
        """From now on, a statement's answer is awaited (limit ``answer_s``)."""
        self._kind, self._limit, self._since = "answer", self.answer_s, time.monotonic()

    def idle(self) -> None:
        """From now on, the connection waits for the client: no limit."""
        self._kind, self._limit, self._since = "idle", math.inf, time.monotonic()

    def streaming(self) -> None:
        """From now on, rows are sent (limit ``stall_s`` between two :meth:`progress` calls)."""
        self._kind, self._limit, self._since = "stall", self.stall_s, time.monotonic()

    def progress(self) -> None:
        """The connection accepted more data."""
        self._since = time.monotonic()

    def _watch(self) -> None:
        while not self._done.wait(_POLL_SECONDS):
            if time.monotonic() - self._since > self._limit:
                if self._kind == "stall":
                    self.reason = (
                        f"the connection to {self.what} moved no data for {self.stall_s:g} s "
                        "while rows were being sent (network partition or a frozen server?); "
                        "the load was abandoned uncommitted ([warehouse] stall_timeout_s)"
                    )
                else:
                    self.reason = (
                        f"{self.what} did not answer within {self.answer_s:g} s (network "
                        "partition or an overloaded server?); the connection was abandoned, "
                        "the server rolls back what it had not committed and the next run "
                        "loads whatever is not marked done ([warehouse] statement_timeout_s)"
                    )
                self._cut()
                return

    def _cut(self) -> None:
        """Shut the socket down under the blocked call (the descriptor stays the driver's)."""
        with contextlib.suppress(OSError):
            duplicate = socket.socket(fileno=os.dup(self._fileno))
            try:
                duplicate.shutdown(socket.SHUT_RDWR)
            finally:
                duplicate.close()
