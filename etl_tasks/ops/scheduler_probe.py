"""Is the central scheduler (luigid) there? One HTTP request before a run depends on it.

Without this, a run pointed at a luigid that is not running (``luigi --module etl_tasks RunAll
--date D`` without ``--local-scheduler``, or ``etl-run --scheduler-url URL``) spends about a minute
in Luigi's RPC retries (``[core] rpc-retry-attempts`` x ``rpc-retry-wait``) and then prints a
page of tracebacks. With it, the run stops at once with one line naming the URL and the two ways
out, and exits :data:`EXIT_SCHEDULER_UNREACHABLE` (3, the set-up error code of every command).

Luigi's RPC retries stay as they are for a luigid that goes away in the middle of a run (a restart
by systemd): the probe only runs before the first task is scheduled.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import requests
from luigi import interface
from luigi.configuration import get_config

from etl_tasks.errors import ConfigError

EXIT_SCHEDULER_UNREACHABLE = 3
DEFAULT_TIMEOUT_S = 10.0  # Luigi's own [core] rpc-connect-timeout default


class SchedulerUnreachableError(ConfigError):
    """Nothing answers HTTP at the scheduler URL; the message says what to do."""


def probe_timeout() -> float:
    """Luigi's ``[core] rpc-connect-timeout`` (seconds), which the RPC calls would use too."""
    return get_config().getfloat("core", "rpc-connect-timeout", DEFAULT_TIMEOUT_S)


def check_scheduler(url: str, timeout_s: float | None = None) -> None:
    """Return when something answers HTTP at ``url``; else :class:`SchedulerUnreachableError`.

    Any HTTP answer counts (luigid answers ``/`` with a redirect to its visualiser); a refused
    connection, a timeout or a DNS failure does not. Only http(s) URLs are probed."""
    if not url.lower().startswith(("http://", "https://")):
        return  # e.g. Luigi's http+unix:// sockets: requests cannot speak them, Luigi can
    timeout = probe_timeout() if timeout_s is None else timeout_s
    try:
        requests.get(url, timeout=(timeout, timeout), allow_redirects=False).close()
    except requests.RequestException as error:
        reason = type(error).__name__
        if isinstance(error, requests.ConnectionError) and "refused" in str(error).lower():
            reason = "connection refused"
        elif isinstance(error, requests.Timeout):
            reason = f"no answer within {timeout:g} s"
        raise SchedulerUnreachableError(
            f"cannot reach the Luigi scheduler (luigid) at {url} ({reason}): start it "
            "(etl-scheduler --background, or make luigid) or run with the local scheduler "
            "(luigi: --local-scheduler; etl-run/orquestrador-btg/etl-backfill: leave out "
            "--scheduler-url)"
        ) from None


def install_luigi_probe() -> None:
    """Make every Luigi run against a remote scheduler probe it first (idempotent).

    Wraps Luigi's worker/scheduler factory, which ``luigi`` and ``luigi.build`` use to create the
    remote scheduler client after logging is configured. An unreachable URL logs one ERROR line
    and raises ``SystemExit(3)``: Luigi's command line turns any ``Exception`` into exit 40 plus a
    traceback, and a SystemExit passes through it."""
    factory = interface._WorkerSchedulerFactory
    original = factory.create_remote_scheduler
    if getattr(original, "etl_probe", False):
        return

    @functools.wraps(original)
    def create_remote_scheduler(self: Any, url: str) -> Any:
        try:
            check_scheduler(url)
        except SchedulerUnreachableError as error:
            logging.getLogger("luigi-interface").error("%s", error)
            raise SystemExit(EXIT_SCHEDULER_UNREACHABLE) from None
        return original(self, url)

    create_remote_scheduler.etl_probe = True  # type: ignore[attr-defined]
    factory.create_remote_scheduler = create_remote_scheduler  # type: ignore[method-assign]
