"""``[warehouse]`` in luigi.cfg: bounded waits on warehouse connections, and the key sort's budget.

A warehouse connection must never wait forever. A network partition in the middle of a load
leaves a socket that neither closes nor moves: without limits the run hangs and keeps its run
lock, and the next cron run exits 10. So every connection gets:

* ``statement_timeout_s`` (default 3600): the server ends any one statement after this long
  (PostgreSQL ``statement_timeout``, MariaDB ``max_statement_time``), and the client waits at
  most this long plus a grace (as much again, at most ``ANSWER_GRACE_S``) for any answer. A
  10M-row load's COPY or LOAD DATA measured well under ten minutes on a 2-core machine
  (``benchmarks/load_benchmark.py``).
* ``stall_timeout_s`` (default 120): while a bulk load streams its rows, no byte accepted by the
  connection for this long means the peer is gone: the client abandons the connection (the
  transaction was never committed, so nothing of it stays) and the load fails with a message
  naming the warehouse. The server drops its side by the same limit (PostgreSQL
  ``tcp_user_timeout``; MariaDB ``net_read_timeout``), so its locks are released for the rerun.
* TCP keepalives (``keepalive_idle_s``, ``keepalive_interval_s``, ``keepalive_count``) on both
  sides, so an idle connection to a host that vanished is noticed within about
  ``idle + interval * count`` seconds (default 30 + 10 x 3).

``sort_budget_mib`` (default 64) is the Arrow memory the key sort of every SQL load (PostgreSQL,
MySQL, SQLite) may hold (:mod:`etl_tasks.warehouse.key_sort`); beyond it the sort spills sorted
runs to disk and merges.
"""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass
from typing import Any

import luigi

# The server's own statement timeout should reach the client first: wait a little longer.
ANSWER_GRACE_S = 30.0


class warehouse(luigi.Config):
    """[warehouse]: timeouts and keepalives of warehouse connections; the key sort's budget."""

    statement_timeout_s = luigi.FloatParameter(
        default=3600.0, description="longest single statement (server and client side)"
    )
    stall_timeout_s = luigi.FloatParameter(
        default=120.0, description="longest time a bulk load may move no byte before it fails"
    )
    keepalive_idle_s = luigi.IntParameter(default=30, description="TCP keepalive idle time")
    keepalive_interval_s = luigi.IntParameter(default=10, description="TCP keepalive interval")
    keepalive_count = luigi.IntParameter(default=3, description="unanswered keepalives = dead")
    sort_budget_mib = luigi.IntParameter(
        default=64, description="Arrow memory of the loads' key sort before it spills"
    )


@dataclass(frozen=True)
class WarehouseSettings:
    """The values of ``[warehouse]``, passed to the backends (tests build their own)."""

    statement_timeout_s: float = 3600.0
    stall_timeout_s: float = 120.0
    keepalive_idle_s: int = 30
    keepalive_interval_s: int = 10
    keepalive_count: int = 3
    sort_budget_mib: int = 64

    @classmethod
    def from_config(cls) -> WarehouseSettings:
        """The settings of the current luigi configuration."""
        config = warehouse()
        return cls(
            statement_timeout_s=float(config.statement_timeout_s),
            stall_timeout_s=float(config.stall_timeout_s),
            keepalive_idle_s=int(config.keepalive_idle_s),
            keepalive_interval_s=int(config.keepalive_interval_s),
            keepalive_count=int(config.keepalive_count),
            sort_budget_mib=int(config.sort_budget_mib),
        )

    @property
    def answer_timeout_s(self) -> float:
        """How long the client waits for any answer of the server (0 in the settings: forever)."""
        if self.statement_timeout_s <= 0:
            return math.inf
        return self.statement_timeout_s + min(ANSWER_GRACE_S, self.statement_timeout_s)

    @property
    def stall_limit_s(self) -> float:
        """Longest time without progress while streaming rows (0 in the settings: forever)."""
        return self.stall_timeout_s if self.stall_timeout_s > 0 else math.inf

    @property
    def sort_budget_bytes(self) -> int:
        return max(self.sort_budget_mib, 1) * 1024 * 1024


def set_keepalive(sock: Any, settings: WarehouseSettings) -> None:
    """TCP keepalive and TCP_USER_TIMEOUT on a connected socket (Linux names; others ignored)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    options = {
        "TCP_KEEPIDLE": settings.keepalive_idle_s,
        "TCP_KEEPINTVL": settings.keepalive_interval_s,
        "TCP_KEEPCNT": settings.keepalive_count,
        # Unacknowledged data older than this closes the connection (a partition during a send).
        "TCP_USER_TIMEOUT": int(max(settings.stall_timeout_s, 0) * 1000),
    }
    for name, value in options.items():
        option = getattr(socket, name, None)
        if option is not None and value > 0:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)
