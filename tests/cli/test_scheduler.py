"""etl-scheduler: loopback only unless told, generated luigid config, history detection, foreground
and background runs, pid file handling. Real luigid processes on free ports."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import luigi.configuration
import pytest
import requests

from etl_sandbox.launcher import free_port
from etl_tasks.cli import scheduler
from tests.cli_helpers import project_env
from tests.scheduler_helpers import SCHEDULER, pidfile, running_scheduler, scheduler_command

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A project directory with the repository's luigi.cfg and a test overlay."""
    shutil.copy(REPO_ROOT / "luigi.cfg", tmp_path / "luigi.cfg")
    return tmp_path, project_env(tmp_path)


def wait_for(condition, timeout_s: float = 20) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)  # bounded by the deadline
    return False


def answers(url: str) -> bool:
    try:
        return requests.head(f"{url}/", timeout=1).status_code == 204
    except requests.RequestException:
        return False


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


def test_generated_config_keeps_the_project_values(project) -> None:
    directory, _ = project
    files = scheduler.SchedulerFiles(
        directory=directory / "luigid",
        state=directory / "luigid" / "state.pickle",
        history=directory / "luigid" / "h%story.db",
        config=directory / "luigid" / "luigid.cfg",
        pidfile=directory / "luigid" / "luigid.pid",
        log=directory / "luigid.log",
    )
    path = scheduler.write_scheduler_config(files, history=True)
    written = path.read_text()
    # What this process's luigi.cfg says survives; the scheduler keys are added.
    assert "[retcode]\n" in written and "task_failed = 30" in written
    parsed = luigi.configuration.LuigiConfigParser()
    parsed.read([str(path)])
    assert parsed.get("scheduler", "state_path") == str(files.state)
    assert parsed.getboolean("scheduler", "record_task_history") is True
    assert parsed.get("task_history", "db_connection") == f"sqlite:///{files.history}"

    scheduler.write_scheduler_config(files, history=False)
    parsed = luigi.configuration.LuigiConfigParser()
    parsed.read([str(path)])
    assert parsed.getboolean("scheduler", "record_task_history") is False
    assert not parsed.has_option("task_history", "db_connection")
    assert not list(files.directory.glob(".*.tmp"))


def test_foreground_logs_serves_and_saves_state_on_sigterm(project) -> None:
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
    assert "task history OFF: --no-history given" in stderr  # on the console too
    log = (directory / "logs" / "luigid.log").read_text()
    assert "task history OFF: --no-history given" in log and f"127.0.0.1:{port}" in log
    assert (directory / "output" / "luigid" / "luigi-state.pickle").stat().st_size > 0
    config = (directory / "output" / "luigid" / "luigid.cfg").read_text()
    assert "record_task_history = false" in config


def test_background_start_refuses_a_second_one_then_stops(project) -> None:
    directory, env = project
    with running_scheduler(directory, env, "--no-history") as url:
        pid = int(pidfile(directory).read_text())
        assert answers(url)
        again = scheduler_command(directory, env, "--port", str(free_port()), "--background")
        assert again.code == 10 and f"already running (pid {pid}" in again.stderr
        port = url.rsplit(":", 1)[1]
        other = directory / "other"
        other.mkdir()
        clash = scheduler_command(other, env, "--port", port, "--background")
        assert clash.code == 3 and f"port {port} on 127.0.0.1 is already in use" in clash.stderr
    assert not pidfile(directory).exists()
    assert not answers(url)
    assert not scheduler.process_alive(pid)
    again = scheduler_command(directory, env, "--stop")
    assert again.code == 0 and "not running (no pid file" in again.stdout


def test_stop_handles_stale_and_foreign_pid_files(project) -> None:
    directory, env = project
    path = pidfile(directory)
    path.parent.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    path.write_text(f"{dead.pid}\n")
    stale = scheduler_command(directory, env, "--stop")
    assert stale.code == 0 and "removed the stale" in stale.stdout
    assert not path.exists()

    bystander = subprocess.Popen(["sleep", "30"])
    try:
        path.write_text(f"{bystander.pid}\n")
        foreign = scheduler_command(directory, env, "--stop")
        assert foreign.code == 1 and "is not etl-scheduler" in foreign.stderr
        assert bystander.poll() is None  # not signalled
    finally:
        bystander.kill()
        bystander.wait()
