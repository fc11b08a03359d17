"""Run locks: a real second process holds the lock, SIGKILL frees it, the refusal names the holder.

``holding_lock`` (used by the backfill and invalidate tests too) starts a Python process that takes
a lock with :func:`run_lock` and keeps it until it is killed, like a long cron run would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_tasks.errors import ConfigError, EtlError
from etl_tasks.ops.lock import (
    EXIT_ALREADY_RUNNING,
    AlreadyRunningError,
    current_holder,
    exit_if_locked,
    lock_path,
    run_lock,
    run_locks,
)

DATE = dt.date(2025, 4, 10)
HOLDER_COMMAND = "etl-run --date 2025-04-10"
_HOLDER_CODE = """
import datetime as dt, sys, time
from pathlib import Path
from etl_tasks.ops.lock import run_lock
root, pipeline, day = Path(sys.argv[1]), sys.argv[2], dt.date.fromisoformat(sys.argv[3])
with run_lock(pipeline, day, root=root, command=sys.argv[4]):
    print("held", flush=True)
    time.sleep(600)
"""


@contextlib.contextmanager
def holding_lock(root: Path, pipeline: str, date: dt.date) -> Iterator[subprocess.Popen]:
    """A separate process holding the lock of (pipeline, date) until the block ends (SIGKILL)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER_CODE, str(root), pipeline, date.isoformat(), HOLDER_COMMAND],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        assert line.strip() == "held", (
            f"holder did not start: {process.stderr.read() if not ready else line}"
        )
        yield process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


def test_second_process_is_refused_with_the_holder_named_and_sigkill_frees_the_lock(
    tmp_path,
) -> None:
    with holding_lock(tmp_path, "twitch", DATE) as holder:
        with pytest.raises(AlreadyRunningError) as refused, run_lock("twitch", DATE, root=tmp_path):
            pytest.fail("the lock must not be granted while another process holds it")
        message = str(refused.value)
        assert message.startswith(
            f"another run of twitch for 2025-04-10 is in progress (pid {holder.pid}, started "
        )
        assert f"`{HOLDER_COMMAND}`); this run exits without touching anything" in message
        assert isinstance(refused.value, EtlError)
        assert current_holder("twitch", DATE, root=tmp_path).pid == holder.pid
        # another pipeline or another date is not blocked
        with (
            run_lock("btg", DATE, root=tmp_path),
            run_lock("twitch", DATE + dt.timedelta(1), root=tmp_path),
        ):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        assert current_holder("twitch", DATE, root=tmp_path) is None
        with run_lock("twitch", DATE, root=tmp_path) as path:
            assert path == tmp_path / "locks" / "twitch_2025-04-10.lock"


def test_lock_file_records_the_holder_and_is_emptied_on_release(tmp_path) -> None:
    path = lock_path("twitch", DATE, root=tmp_path)
    with run_lock("twitch", DATE, root=tmp_path, command="etl-backfill --start x"):
        record = json.loads(path.read_text())
        assert record["pid"] == os.getpid()
        assert record["command"] == "etl-backfill --start x"
        assert record["pipeline"] == "twitch" and record["date"] == "2025-04-10"
        started = dt.datetime.fromisoformat(record["started_at"])
        assert abs((dt.datetime.now(dt.timezone.utc) - started).total_seconds()) < 60
        assert record["host"]
        with run_lock("twitch", DATE, root=tmp_path):  # re-entrant in the holding process
            pass
        assert current_holder("twitch", DATE, root=tmp_path).pid == os.getpid()
    assert path.exists() and path.read_text() == ""
    assert current_holder("twitch", DATE, root=tmp_path) is None


def test_several_locks_are_all_or_nothing(tmp_path) -> None:
    other = DATE + dt.timedelta(days=1)
    with holding_lock(tmp_path, "btg", other):
        with (
            pytest.raises(AlreadyRunningError, match="another run of btg for 2025-04-11"),
            run_locks(["twitch", "btg"], [DATE, other], root=tmp_path),
        ):
            pytest.fail("must not enter")
        for pipeline, day in (("twitch", DATE), ("btg", DATE), ("twitch", other)):
            assert current_holder(pipeline, day, root=tmp_path) is None, (pipeline, day)


def test_exit_if_locked_prints_the_holder_and_exits_10(tmp_path, capsys) -> None:
    with holding_lock(tmp_path, "twitch", DATE) as holder:
        with (
            pytest.raises(SystemExit) as stopped,
            exit_if_locked(["twitch"], [DATE], root=tmp_path),
        ):
            pytest.fail("must not enter")
        assert stopped.value.code == EXIT_ALREADY_RUNNING == 10
        assert f"(pid {holder.pid}, started" in capsys.readouterr().err
    with exit_if_locked(["twitch"], [DATE], root=tmp_path) as paths:
        assert paths == [tmp_path / "locks" / "twitch_2025-04-10.lock"]


def test_a_pipeline_name_cannot_escape_the_locks_directory(tmp_path) -> None:
    with pytest.raises(ConfigError, match="invalid pipeline name"):
        lock_path("../twitch", DATE, root=tmp_path)
