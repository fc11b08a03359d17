"""The file-backed state store: leases exclusive across processes and freed by death, updates
serialised across processes, keys that cannot escape the root. Real files, real processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from etl_tasks.core.state_store import FileStore

_HOLDER = """
import sys
from etl_tasks.core.state_store import FileStore
lease = FileStore(sys.argv[1]).try_lease("locks/x.lock", b"held by child")
print("held" if lease else "refused", flush=True)
sys.stdin.read()
"""


def test_a_lease_is_exclusive_records_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "held"
        store = FileStore(tmp_path)
        assert store.try_lease("locks/x.lock", b"me") is None
        assert store.lease_record("locks/x.lock") == b"held by child"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        lease = store.try_lease("locks/x.lock", b"me")
        assert lease is not None
        assert store.lease_record("locks/x.lock") == b"me"
        lease.release()
        lease.release()  # idempotent
        assert store.lease_record("locks/x.lock") == b""
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
        child.stdin.close()
        child.stdout.close()


def _increment(root: str, times: int) -> None:
    store = FileStore(root)
    for _ in range(times):
        store.update("counter", lambda raw: (str(int(raw or b"0") + 1).encode(), None))


def test_updates_from_several_processes_never_lose_one(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_increment, args=(str(tmp_path), 50)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert (tmp_path / "counter").read_bytes() == b"150"


def _slow_increment(raw: bytes) -> tuple[bytes, None]:
    # Sleeping inside the update lets another thread run in the middle of it: without the
    # per-key lock two threads would both read the same value and one increment would be lost.
    value = int(raw or b"0")
    time.sleep(0.0005)
    return str(value + 1).encode(), None


def _increment_in_threads(store: FileStore, threads: int, times: int) -> None:
    def work() -> None:
        for _ in range(times):
            store.update("counter", _slow_increment)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def test_threads_and_forked_children_sharing_one_store_never_lose_an_update(
    tmp_path: Path,
) -> None:
    # The store keeps the key's file open: its threads share that descriptor, and a forked child
    # inherits it, so neither may rely on flock alone.
    store = FileStore(tmp_path)
    store.update("counter", lambda raw: (b"0", None))
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=_increment_in_threads, args=(store, 4, 25)) for _ in range(3)
    ]
    for child in children:
        child.start()
    _increment_in_threads(store, 4, 25)
    for child in children:
        child.join(timeout=120)
        assert child.exitcode == 0
    assert (tmp_path / "counter").read_bytes() == b"400"


def test_a_removed_file_is_created_again_and_updated(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.update("a/counter", lambda raw: (b"7", None))
    (tmp_path / "a" / "counter").unlink()
    assert store.update("a/counter", lambda raw: (b"8", raw)) == b""
    assert (tmp_path / "a" / "counter").read_bytes() == b"8"


def test_update_returns_its_result_and_none_keeps_the_value(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    assert store.update("a/b.json", lambda raw: (b"one", raw)) == b""
    assert store.update("a/b.json", lambda raw: (None, raw)) == b"one"
    assert (tmp_path / "a" / "b.json").read_bytes() == b"one"


@pytest.mark.parametrize("key", ["", "../x", "/etc/passwd", "a//b", "a/../b", ".hidden"])
def test_keys_cannot_leave_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid state key"):
        FileStore(tmp_path).path(key)
