"""Run locks: one run per pipeline and date at a time, safe under cron.

    with run_lock("twitch", date):                       # raises AlreadyRunningError if held
        ...
    with exit_if_locked(["twitch", "btg"], [date]):      # CLIs: prints the holder, exits 10
        ...

A lock is ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<output>/locks/<pipeline>_<YYYY-MM-DD>.lock``.
The kernel drops a flock when the last descriptor of the holder goes away, so a run killed with
SIGKILL, an OOM kill or a reboot never leaves a stale lock behind; there is no pid file to clean up.
The file is kept (never unlinked): unlinking a lock file lets two processes lock two different
inodes of the same name. While held it records who holds it (pid, host, command, start time) so a
second run can say which run is in its way.

Within one process the lock is re-entrant (a nested ``run_lock`` of a lock this process already
holds just passes), because flock would otherwise make a process conflict with itself; Luigi
worker processes forked by ``--workers N`` share their parent's lock the same way.

Exit code for "already running" is 10, the same as Luigi's ``[retcode] already_running``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shlex
import socket
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from etl_tasks.core.runtime import output_root
from etl_tasks.core.state_store import FileStore, Lease, StateStore
from etl_tasks.errors import ConfigError, EtlError

logger = logging.getLogger(__name__)

EXIT_ALREADY_RUNNING = 10
LOCKS_DIR = "locks"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_COMMAND_MAX = 300
# A holder writes its record right after taking the lock; a contender that reads in between sees
# an empty file, so it rereads for at most this long before calling the holder unknown.
_RECORD_WAIT_S = 0.5

# Locks this process holds: lock file -> (lease, nesting depth).
_HELD: dict[Path, tuple[Lease, int]] = {}


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock: written into the lock file, read back for the refusal message."""

    pid: int
    host: str
    command: str
    started_at: str  # ISO 8601, aware

    def started_text(self, today: dt.date | None = None) -> str:
        """Start time in local time: ``08:30:01``, with the date when it is not today."""
        try:
            started = dt.datetime.fromisoformat(self.started_at).astimezone()
        except ValueError:
            return self.started_at
        today = today or dt.datetime.now().astimezone().date()
        fmt = "%H:%M:%S" if started.date() == today else "%Y-%m-%d %H:%M:%S"
        return started.strftime(fmt)

    def describe(self) -> str:
        """``pid 1234, started 08:30:01, `etl-run --date 2025-04-10```."""
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"pid {self.pid}{where}, started {self.started_text()}, `{self.command}`"


class AlreadyRunningError(EtlError):
    """Another run holds the lock of this pipeline and date; this run must not touch anything."""

    def __init__(self, pipeline: str, date: dt.date, holder: LockHolder | None, path: Path) -> None:
        self.pipeline, self.date, self.holder, self.path = pipeline, date, holder, path
        super().__init__(
            f"{self.in_progress()}; this run exits without touching anything. "
            "Run it again once that run has finished."
        )

    def in_progress(self) -> str:
        """``another run of twitch for 2025-04-10 is in progress (pid 1234, ...)``."""
        who = self.holder.describe() if self.holder else f"holder unknown, lock file {self.path}"
        return f"another run of {self.pipeline} for {self.date.isoformat()} is in progress ({who})"


def command_line(argv: list[str] | None = None) -> str:
    """The command this process runs, as a person would type it (``python -m`` kept readable)."""
    args = list(sys.argv if argv is None else argv)
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    if argv is None and spec is not None and spec.name:
        head = ["python", "-m", spec.name.removesuffix(".__main__")]
    else:
        head = [Path(args[0]).name] if args else ["python"]
    text = shlex.join(head + args[1:])
    return text if len(text) <= _COMMAND_MAX else text[: _COMMAND_MAX - 3] + "..."


def lock_path(pipeline: str, date: dt.date, root: Path | None = None) -> Path:
    """``<output>/locks/<pipeline>_<YYYY-MM-DD>.lock``."""
    if not _NAME.match(pipeline):
        raise ConfigError(
            f"invalid pipeline name {pipeline!r} for a lock: use lower-case letters, digits, _ or -"
        )
    base = Path(root) if root is not None else output_root()
    return base / LOCKS_DIR / f"{pipeline}_{date.isoformat()}.lock"


def read_holder(path: Path, wait_s: float = _RECORD_WAIT_S) -> LockHolder | None:
    """The holder recorded in a lock file, waiting briefly for a holder that is still writing."""
    deadline = time.monotonic() + wait_s
    while True:
        with contextlib.suppress(FileNotFoundError, ValueError, TypeError, KeyError):
            document = json.loads(_store_of(path).lease_record(path.name))
            return LockHolder(
                pid=int(document["pid"]),
                host=str(document["host"]),
                command=str(document["command"]),
                started_at=str(document["started_at"]),
            )
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)  # bounded by the deadline above


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def current_holder(pipeline: str, date: dt.date, root: Path | None = None) -> LockHolder | None:
    """Who seems to hold the lock right now (None when free), for plans and notes only.

    It reads the record and checks that its process is alive instead of trying the lock: a probe
    that took the lock, even for an instant, could make a run starting at that moment exit 10.
    A record left by a killed holder is ignored (its pid is gone); one of another host is
    believed. The authoritative check is taking the lock, in :func:`run_locks`."""
    holder = read_holder(lock_path(pipeline, date, root), wait_s=0)
    if holder is None:
        return None
    if holder.host == socket.gethostname() and not _alive(holder.pid):
        return None
    return holder


def lock_store(root: Path | None = None) -> StateStore:
    """The state store holding the run locks of a deployment (``<output>/locks/``)."""
    base = Path(root) if root is not None else output_root()
    return FileStore(base / LOCKS_DIR)


def _store_of(path: Path) -> StateStore:
    return FileStore(path.parent)


def make_lock_directory(directory: Path) -> None:
    """Create a lock directory; one line naming the setting to change when the user cannot."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot create the lock directory {directory} ({error.strerror or error}): set "
            "[paths] output_dir in luigi.cfg to a directory this user can write"
        ) from None


def _acquire(pipeline: str, date: dt.date, root: Path | None, command: str) -> Path:
    path = lock_path(pipeline, date, root)
    make_lock_directory(path.parent)
    key = path.resolve()
    if key in _HELD:
        lease, depth = _HELD[key]
        _HELD[key] = (lease, depth + 1)
        return key
    holder = LockHolder(
        pid=os.getpid(),
        host=socket.gethostname(),
        command=command,
        started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    record = json.dumps({**asdict(holder), "pipeline": pipeline, "date": date.isoformat()})
    lease = lock_store(root).try_lease(path.name, record.encode("utf-8") + b"\n")
    if lease is None:
        raise AlreadyRunningError(pipeline, date, read_holder(path), path)
    _HELD[key] = (lease, 1)
    logger.debug("lock taken: %s", path)
    return key


def _release(key: Path) -> None:
    lease, depth = _HELD[key]
    if depth > 1:
        _HELD[key] = (lease, depth - 1)
        return
    del _HELD[key]
    lease.release()


@contextlib.contextmanager
def run_locks(
    pipelines: Iterable[str],
    dates: Iterable[dt.date],
    *,
    root: Path | None = None,
    command: str | None = None,
) -> Iterator[list[Path]]:
    """Hold the lock of every (pipeline, date) for the block, or none of them.

    Raises :class:`AlreadyRunningError` naming the first holder found; locks taken before it are
    released, so a refused run leaves everything as it was."""
    text = command or command_line()
    pairs = sorted({(day, name) for name in pipelines for day in dates})
    taken: list[Path] = []
    try:
        for day, name in pairs:
            taken.append(_acquire(name, day, root, text))
        yield [lock_path(name, day, root) for day, name in pairs]
    finally:
        for key in reversed(taken):
            _release(key)


@contextlib.contextmanager
def run_lock(
    pipeline: str, date: dt.date, *, root: Path | None = None, command: str | None = None
) -> Iterator[Path]:
    """Hold the lock of one pipeline and date for the block (see :func:`run_locks`)."""
    with run_locks([pipeline], [date], root=root, command=command) as paths:
        yield paths[0]


LUIGI_LOCK_DIR = "luigi"


def luigi_lock_dir(root: Path | None = None) -> Path:
    """Where Luigi keeps its process lock for this deployment: ``<output>/locks/luigi``.

    Luigi's default (``<tmp>/luigi``) keys the lock on the command line alone, so two checkouts
    running ``etl-run --date D`` at once would block each other; under the output directory, like
    the run locks, two deployments never meet while two identical commands of one still do."""
    base = Path(root) if root is not None else output_root()
    return base.resolve() / LOCKS_DIR / LUIGI_LOCK_DIR


_SCOPED_LUIGI_LOCK_DIR: str | None = None


def scope_luigi_process_lock(root: Path | None = None, *, create: bool = True) -> Path:
    """Point ``[core] lock_pid_dir`` at this deployment's directory (unless set in luigi.cfg).

    Called when ``etl_tasks`` is imported (plain ``luigi --module etl_tasks``; ``create`` only in
    that command, so importing creates nothing elsewhere) and again before each run of ours, so a
    changed ``[paths] output_dir`` is followed. Luigi itself creates only the last level."""
    global _SCOPED_LUIGI_LOCK_DIR
    from luigi.configuration import get_config  # only Luigi's own lock needs Luigi

    config = get_config()
    current = config.get("core", "lock_pid_dir", None)
    if current is not None and current != _SCOPED_LUIGI_LOCK_DIR:
        return Path(current)  # chosen by the user
    scoped = luigi_lock_dir(root)
    if not create and not scoped.parent.is_dir():
        # Nothing may be created at import (a refused run leaves no output/); Luigi makes only
        # the last level, so until output/locks exists use a directory of this deployment in /tmp.
        digest = hashlib.sha256(str(scoped).encode()).hexdigest()[:12]
        scoped = Path(tempfile.gettempdir()) / f"luigi-{digest}"
    if create:
        make_lock_directory(scoped.parent)
    config.set("core", "lock_pid_dir", str(scoped))
    _SCOPED_LUIGI_LOCK_DIR = str(scoped)
    return scoped


@contextlib.contextmanager
def exit_if_locked(
    pipelines: Iterable[str], dates: Iterable[dt.date], *, root: Path | None = None
) -> Iterator[list[Path]]:
    """For entry points: hold the locks, or print who holds one and exit with code 10.

    ``with exit_if_locked(["twitch"], [date]):`` — one line; the ``SystemExit`` leaves ``main()``
    (and ``sys.exit(main())``) with code 10 before anything was touched."""
    try:
        with run_locks(pipelines, dates, root=root) as paths:
            yield paths
            return
    except AlreadyRunningError as error:
        logger.error("%s", error)
        print(str(error), file=sys.stderr)
        raise SystemExit(EXIT_ALREADY_RUNNING) from None
