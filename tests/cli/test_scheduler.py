"""etl-scheduler: loopback only unless told, history detection, luigid's own options with the
project's defaults, foreground and background (luigid's daemon mode) runs, `make luigid PORT=`.
Real luigid processes on free ports."""

from __future__ import annotations

import shutil
import signal
import stat
import subprocess
from pathlib import Path

import pytest
import requests

from etl_sandbox.launcher import free_port
from etl_tasks.cli import scheduler
from tests.cli_helpers import project_env
from tests.scheduler_helpers import (
    SCHEDULER,
    answers,
    pidfile,
    process_alive,
    running_scheduler,
    scheduler_command,
    wait_for,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A project directory with the repository's luigi.cfg and a test overlay."""
    shutil.copy(REPO_ROOT / "luigi.cfg", tmp_path / "luigi.cfg")
    return tmp_path, project_env(tmp_path)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_are_allowed(address: str) -> None:
    assert scheduler.refuse_address(address, allow_remote=False) is None


@pytest.mark.parametrize("address", ["0.0.0.0", "10.1.2.3", "::", "scheduler.example.com"])
def test_other_addresses_need_allow_remote(address: str) -> None:
    refusal = scheduler.refuse_address(address, allow_remote=False)
    assert refusal and "no authentication" in refusal and "--allow-remote" in refusal
    assert scheduler.refuse_address(address, allow_remote=True) is None


def test_remote_address_is_refused_before_anything_starts(project) -> None:
    directory, env = project
    port = free_port()
    result = scheduler_command(directory, env, "--address", "0.0.0.0", "--port", str(port))
    assert result.code == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert not answers(f"http://127.0.0.1:{port}")
    assert not (directory / "output" / "luigid").exists()


def test_history_needs_sqlalchemy_below_2() -> None:
    assert scheduler.history_support("1.4.54") == (True, "SQLAlchemy 1.4.54")
    for version in ("2.0.36", None, "garbage"):
        enabled, reason = scheduler.history_support(version)
        assert not enabled and "pip install -e '.[history]'" in reason, version
    assert "crashes" in scheduler.history_support("2.0.0")[1]


def test_luigid_options_get_the_project_defaults(project, monkeypatch) -> None:
    directory, _ = project
    monkeypatch.chdir(directory)
    parser = scheduler.build_parser()
    foreground = scheduler.luigid_argv(parser.parse_args(["--port", "8090"]))
    state = str(directory / "output" / "luigid" / "luigi-state.pickle")
    assert foreground == ["--address", "127.0.0.1", "--port", "8090", "--state-path", state]
    background = scheduler.luigid_argv(parser.parse_args(["--background"]))
    assert background == [
        "--address", "127.0.0.1", "--port", "8082", "--state-path", state, "--background",
        "--pidfile", str(directory / "output" / "luigid" / "luigid.pid"),
        "--logdir", str(directory / "logs" / "luigid"),
    ]
    mine = scheduler.luigid_argv(parser.parse_args(["--pidfile", "p.pid", "--logdir", "l"]))
    assert mine[-4:] == ["--pidfile", "p.pid", "--logdir", "l"]


def test_make_luigid_passes_the_port() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "luigid", "PORT=8093"], cwd=REPO_ROOT, capture_output=True, text=True,
        check=True,
    )
    assert "-m etl_tasks.cli.scheduler --port 8093" in dry_run.stdout


def test_foreground_serves_and_saves_state_on_sigterm(project) -> None:
    directory, env = project
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*SCHEDULER, "--port", str(port), "--no-history"],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: answers(url) or process.poll() is not None)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert requests.get(f"{url}/api/task_list", timeout=5).json()["response"] == {}
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "task history OFF: --no-history given" in stderr
    assert "Saved state in" in stderr  # luigid's own log, on the console in the foreground
    assert (directory / "output" / "luigid" / "luigi-state.pickle").stat().st_size > 0
    assert not (directory / "output" / "luigid" / "history.db").exists()


def test_background_with_history_refuses_a_second_one_and_a_busy_port(project) -> None:
    pytest.importorskip("sqlalchemy", reason="task history needs the history extra")
    directory, env = project
    path = pidfile(directory)
    path.parent.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    path.write_text(f"{dead.pid}\n")  # a stale pid file does not block a start
    with running_scheduler(directory, env) as url:
        pid = int(path.read_text())
        assert pid != dead.pid and process_alive(pid)
        assert requests.get(f"{url}/history", timeout=10).status_code == 200
        assert (directory / "output" / "luigid" / "history.db").is_file()
        for private in (directory / "output" / "luigid", directory / "logs" / "luigid"):
            assert stat.S_IMODE(private.stat().st_mode) == 0o700, private  # daemon umask is 0
        again = scheduler_command(directory, env, "--port", str(free_port()), "--background")
        assert again.code == 10 and f"already running (pid {pid}" in again.stderr
        port = url.rsplit(":", 1)[1]
        other = directory / "other"
        other.mkdir()
        clash = scheduler_command(other, env, "--port", port, "--no-history")
        assert clash.code == 3 and f"port {port} on 127.0.0.1 is already in use" in clash.stderr
    assert not process_alive(pid)
    assert not answers(url)
    log = (directory / "logs" / "luigid" / "luigi-server.log").read_text()
    assert "Scheduler starting up" in log and "Saved state in" in log
