"""Checks before Luigi schedules anything: the ``.env`` file named by ``ETL_ENV_FILE`` exists, and
the central scheduler (luigid), when one is used, answers.

Without them a run with a missing ``ETL_ENV_FILE`` fails inside every task's ``complete()`` (exit
35 and a traceback per task), and a run pointed at a luigid that is not running (``luigi --module
etl_tasks RunAll --date D`` without ``--local-scheduler``, or ``etl-run --scheduler-url URL``)
spends about a minute in Luigi's RPC retries (``[core] rpc-retry-attempts`` x ``rpc-retry-wait``)
and then prints a page of tracebacks. With them, the run stops at once with one line saying what
is wrong and how to fix it, and exits :data:`EXIT_PREFLIGHT` (3, the configuration / set-up error
code of every command).

Luigi's RPC retries stay as they are for a luigid that goes away in the middle of a run (a restart
by systemd): the probe only runs before the first task is scheduled.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, NoReturn

import requests
from luigi import interface
from luigi.configuration import get_config

from etl_tasks.config import load_env, redact_url
from etl_tasks.errors import ConfigError

EXIT_PREFLIGHT = 3
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
            f"cannot reach the Luigi scheduler (luigid) at {redact_url(url)} ({reason}): start it "
            "(etl-scheduler --background, or make luigid) or run with the local scheduler "
            "(luigi: --local-scheduler; the project's commands: leave out --scheduler-url)"
        ) from None


def stop_run(error: ConfigError) -> NoReturn:
    """One ERROR line through Luigi's logger, then exit 3.

    ``SystemExit`` because Luigi's command line turns any ``Exception`` into exit 40 plus a
    traceback, and a SystemExit passes through it (and through ``luigi.build``)."""
    logging.getLogger("luigi-interface").error("%s", error)
    raise SystemExit(EXIT_PREFLIGHT) from None


def install_preflight() -> None:
    """Make every Luigi run of this process check its set-up first (idempotent).

    Wraps Luigi's worker/scheduler factory, which the ``luigi`` command and ``luigi.build`` call
    once per run, after logging is configured and before any task is looked at."""
    factory = interface._WorkerSchedulerFactory
    if getattr(factory.create_local_scheduler, "etl_preflight", False):
        return
    local, remote = factory.create_local_scheduler, factory.create_remote_scheduler

    @functools.wraps(local)
    def create_local_scheduler(self: Any) -> Any:
        try:
            load_env()
        except ConfigError as error:
            stop_run(error)
        return local(self)

    @functools.wraps(remote)
    def create_remote_scheduler(self: Any, url: str) -> Any:
        try:
            load_env()
            check_scheduler(url)
        except ConfigError as error:
            stop_run(error)
        return remote(self, url)

    create_local_scheduler.etl_preflight = True  # type: ignore[attr-defined]
    factory.create_local_scheduler = create_local_scheduler  # type: ignore[method-assign]
    factory.create_remote_scheduler = create_remote_scheduler  # type: ignore[method-assign]
