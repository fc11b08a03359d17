"""etl-scheduler: run luigid, Luigi's central scheduler and visualiser, safely for this project.

    etl-scheduler                           # foreground, http://127.0.0.1:8082 (systemd/supervisor)
    etl-scheduler --port 8090 --background  # detach; writes a pid file, returns once it answers
    etl-scheduler --stop                    # stop the scheduler started with --background
    python -m etl_tasks.cli.scheduler ...   # the same without the installed command

Workers then use it with ``luigi --module etl_tasks RunAll --date D --scheduler-url
http://127.0.0.1:8082 --workers N`` (or ``etl-run --scheduler-url ...``).

luigid has no authentication and, by default, listens on every interface: anyone who reaches the
port can read every task's parameters and mark tasks done or failed. So it is bound to 127.0.0.1;
another ``--address`` is refused unless ``--allow-remote`` says the network around it is trusted
(firewall, VPN). Workers on other hosts can reach a loopback-only scheduler through an SSH tunnel.

Files (``[paths]`` of luigi.cfg): ``<output>/luigid/luigi-state.pickle`` (scheduler state, kept
across restarts), ``<output>/luigid/history.db`` (task history, SQLite),
``<output>/luigid/luigid.pid`` (``--background``), ``<logs>/luigid.log``. The luigid settings are
written on every start to ``<output>/luigid/luigid.cfg``: the project's own configuration (luigi.cfg
and LUIGI_CONFIG_PATH) plus the scheduler keys, loaded on top the way LUIGI_CONFIG_PATH is, so
luigi.cfg is never edited.

Task history needs SQLAlchemy < 2 (``pip install -e '.[history]'``): luigi 3.8.1's history crashes
at start-up with SQLAlchemy 2. With 2.x or none installed the scheduler runs without history and
says so (``--no-history`` turns it off on purpose).

Exit codes: 0 ok (also after a clean shutdown by SIGTERM/SIGINT); 1 ``--stop`` failed; 2 bad
arguments or a refused address; 3 could not start (port in use, exited, did not answer); 10 already
running.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import errno
import ipaddress
import logging
import logging.handlers
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import luigi.configuration
import requests

from etl_tasks.cli.parsers import document
from etl_tasks.config import logs_root, output_root, redact_url
from etl_tasks.core.logs import LOG_FORMAT
from etl_tasks.core.redact import RedactingFilter

logger = logging.getLogger("etl_tasks.scheduler")

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8082
EXIT_OK = 0
EXIT_STOP_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_STARTED = 3
EXIT_ALREADY_RUNNING = 10  # the number luigi.cfg [retcode] gives "already running"
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
# Marks our own process in /proc/<pid>/cmdline, so --stop never signals a recycled pid.
MODULE = "etl_tasks.cli.scheduler"


@dataclass(frozen=True)
class SchedulerFiles:
    """Where the scheduler keeps its state, history, generated config, pid and log (absolute)."""

    directory: Path
    state: Path
    history: Path
    config: Path
    pidfile: Path
    log: Path

    @classmethod
    def for_project(cls, pidfile: str | None = None) -> SchedulerFiles:
        """The files under ``[paths] output_dir`` and ``logs_dir``, made absolute now (a daemon
        must not depend on the directory it was started from)."""
        directory = (output_root() / "luigid").resolve()
        return cls(
            directory=directory,
            state=directory / "luigi-state.pickle",
            history=directory / "history.db",
            config=directory / "luigid.cfg",
            pidfile=Path(pidfile).resolve() if pidfile else directory / "luigid.pid",
            log=(logs_root() / "luigid.log").resolve(),
        )


# --- checks -----------------------------------------------------------------------------------


def is_loopback(address: str) -> bool:
    """True for ``localhost`` and loopback IPs (127.0.0.0/8, ::1)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything: treat it as remote


def refuse_address(address: str, allow_remote: bool) -> str | None:
    """Why ``address`` may not be used, or None when it may."""
    if is_loopback(address) or allow_remote:
        return None
    return (
        f"refusing to listen on {address}: luigid has no authentication, so anyone who can reach "
        "the port can read task parameters and mark tasks done or failed. Keep the default "
        f"{DEFAULT_ADDRESS} (workers on other hosts can use an SSH tunnel), or pass "
        "--allow-remote if the network in front of it is trusted (firewall, VPN)."
    )


def sqlalchemy_version() -> str | None:
    """The installed SQLAlchemy version, or None when it cannot be imported."""
    try:
        import sqlalchemy
    except ImportError:
        return None
    return str(sqlalchemy.__version__)


def history_support(version: str | None) -> tuple[bool, str]:
    """Whether luigid's task history can run with SQLAlchemy ``version``, and why not."""
    fix = "install the history extra (pip install -e '.[history]', SQLAlchemy < 2) and restart"
    if version is None:
        return False, f"SQLAlchemy is not installed; {fix}"
    try:
        major = int(version.split(".")[0])
    except ValueError:
        return False, f"SQLAlchemy version {version!r} is not understood; {fix}"
    if major >= 2:
        return False, (
            f"SQLAlchemy {version} is installed and luigi 3.8.1's task history crashes at "
            f"start-up with SQLAlchemy 2; {fix}"
        )
    return True, f"SQLAlchemy {version}"


# --- the generated luigid configuration ---------------------------------------------------------


def scheduler_config(files: SchedulerFiles, history: bool) -> configparser.ConfigParser:
    """The project's configuration as this process sees it, plus the scheduler's own keys.

    Values are copied raw (``%(x)s`` and ``${VAR}`` still expand in luigid the same way)."""
    project = luigi.configuration.get_config()
    derived = configparser.ConfigParser(interpolation=None)
    derived.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case as luigi
    derived.read_dict({"DEFAULT": dict(project.defaults())})
    for section in project.sections():
        derived[section] = {
            key: value
            for key, value in project.items(section, raw=True)
            if key not in project.defaults()
        }

    def setting(section: str, key: str, value: str) -> None:
        if not derived.has_section(section):
            derived.add_section(section)
        derived.set(section, key, value.replace("%", "%%"))  # luigi interpolates % on read

    setting("scheduler", "state_path", str(files.state))
    setting("scheduler", "record_task_history", "true" if history else "false")
    if history and not project.get("task_history", "db_connection", None):
        setting("task_history", "db_connection", f"sqlite:///{files.history}")
    return derived


def write_scheduler_config(files: SchedulerFiles, history: bool) -> Path:
    """Write ``luigid.cfg`` atomically (a reader never sees half a file); return its path."""
    files.directory.mkdir(parents=True, exist_ok=True)
    temporary = files.config.with_name(f".{files.config.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(
            "# Generated by etl-scheduler on every start; edit luigi.cfg instead.\n"
            "# The project's configuration plus [scheduler] state/history and [task_history].\n\n"
        )
        scheduler_config(files, history).write(handle)
    temporary.replace(files.config)
    return files.config


# --- foreground: this process is the scheduler ------------------------------------------------


def setup_scheduler_logging(log_path: Path, console: bool) -> None:
    """Log to ``<logs>/luigid.log`` (reopened after logrotate moves it) and, unless told
    otherwise, to stderr (what systemd/supervisor capture)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter(LOG_FORMAT)
    handlers: list[logging.Handler] = [logging.handlers.WatchedFileHandler(log_path)]
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    # Workers ping every second; one access line per ping would bury everything else.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


def serve(args: argparse.Namespace, files: SchedulerFiles) -> int:
    """Run luigid in this process until SIGTERM/SIGINT; return the exit code."""
    setup_scheduler_logging(files.log, console=not args.log_file_only)
    if args.allow_remote and not is_loopback(args.address):
        logger.warning(
            "luigid listens on %s with NO authentication: anyone who reaches port %d can read "
            "task parameters and mark tasks done or failed",
            args.address,
            args.port,
        )
    history, reason = (
        (False, "--no-history given") if args.no_history else history_support(sqlalchemy_version())
    )
    config_path = write_scheduler_config(files, history)
    # What LUIGI_CONFIG_PATH does at import, done now that the file exists; children inherit it.
    os.environ["LUIGI_CONFIG_PATH"] = str(config_path)
    luigi.configuration.add_config_path(str(config_path))
    config = luigi.configuration.get_config()
    if history:
        url = redact_url(config.get("task_history", "db_connection"))
        logger.info("task history ON (%s): %s; pages at /history", reason, url)
    else:
        logger.warning("task history OFF: %s", reason)
    logger.info(
        "luigid on http://%s:%d (state %s, config %s, log %s)",
        args.address,
        args.port,
        files.state,
        config_path,
        files.log,
    )
    from luigi import server  # after the configuration is final: the Scheduler reads it when built

    try:
        server.run(api_port=args.port, address=args.address)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            logger.error(
                "port %d on %s is already in use (another luigid? `etl-scheduler --stop`, or "
                "choose another --port)",
                args.port,
                args.address,
            )
            return EXIT_NOT_STARTED
        raise
    return EXIT_OK


# --- background: a detached child runs serve() ---------------------------------------------------


def read_pid(pidfile: Path) -> int | None:
    """The pid in ``pidfile``, or None when there is no usable one."""
    try:
        return int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def is_scheduler_process(pid: int) -> bool:
    """True when ``pid`` runs this module (where /proc exists to tell); guards against pid reuse."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return not Path("/proc/self").exists()
    return MODULE.encode() in command


def port_is_free(address: str, port: int) -> bool:
    """True when ``address:port`` can be bound now (with SO_REUSEADDR, as tornado binds)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def local_url(address: str, port: int) -> str:
    """A URL this host can reach the scheduler at (a wildcard address is reached via loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(address, address)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def wait_until_answering(url: str, process: subprocess.Popen, timeout_s: float) -> bool:
    """Poll ``HEAD /`` (luigid's health check, 204) until it answers, the child exits or time is
    up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(requests.RequestException):
            if requests.head(f"{url}/", timeout=1).status_code == 204:
                return process.poll() is None
        time.sleep(0.1)  # readiness poll, bounded by the deadline above
    return False


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of the scheduler log (to show why a start failed)."""
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def child_command(args: argparse.Namespace) -> list[str]:
    """The foreground command the detached child runs (log to the file only)."""
    command = [sys.executable, "-m", MODULE, "--port", str(args.port), "--address", args.address]
    command += ["--allow-remote"] if args.allow_remote else []
    command += ["--no-history"] if args.no_history else []
    return [*command, "--log-file-only"]


def start_background(args: argparse.Namespace, files: SchedulerFiles) -> int:
    """Start the scheduler detached, record its pid, return once it answers."""
    running = read_pid(files.pidfile)
    if running is not None and process_alive(running) and is_scheduler_process(running):
        print(
            f"luigid is already running (pid {running}, pid file {files.pidfile}); "
            "stop it with etl-scheduler --stop",
            file=sys.stderr,
        )
        return EXIT_ALREADY_RUNNING
    if not port_is_free(args.address, args.port):
        print(
            f"port {args.port} on {args.address} is already in use (another luigid?); choose "
            "another --port or stop what holds it",
            file=sys.stderr,
        )
        return EXIT_NOT_STARTED
    files.directory.mkdir(parents=True, exist_ok=True)
    files.log.parent.mkdir(parents=True, exist_ok=True)
    with files.log.open("ab") as log:
        # Its own session: closing this terminal or this process group does not stop it. Output
        # that escapes logging (a crash before it is set up) still lands in the log.
        process = subprocess.Popen(
            child_command(args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    temporary = files.pidfile.with_name(f".{files.pidfile.name}.tmp")
    temporary.write_text(f"{process.pid}\n")
    temporary.replace(files.pidfile)
    url = local_url(args.address, args.port)
    if wait_until_answering(url, process, STARTUP_TIMEOUT_S):
        print(
            f"luigid running (pid {process.pid}) at {url} — visualiser {url}/, history "
            f"{url}/history; log {files.log}; stop with etl-scheduler --stop"
        )
        return EXIT_OK
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    files.pidfile.unlink(missing_ok=True)
    print(
        f"luigid did not start (exit {process.poll()}); the end of {files.log}:\n"
        f"{log_tail(files.log)}",
        file=sys.stderr,
    )
    return EXIT_NOT_STARTED


def stop(files: SchedulerFiles) -> int:
    """Stop the scheduler named by the pid file (SIGTERM: it saves its state first)."""
    pid = read_pid(files.pidfile)
    if pid is None:
        print(f"luigid is not running (no pid file at {files.pidfile})")
        return EXIT_OK
    if not process_alive(pid):
        files.pidfile.unlink(missing_ok=True)
        print(f"luigid is not running (pid {pid} is gone); removed the stale {files.pidfile}")
        return EXIT_OK
    if not is_scheduler_process(pid):
        print(
            f"pid {pid} from {files.pidfile} is not etl-scheduler (the pid was reused?); not "
            "signalling it. Remove the stale pid file and stop luigid by hand if it still runs.",
            file=sys.stderr,
        )
        return EXIT_STOP_FAILED
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process_alive(pid):
            files.pidfile.unlink(missing_ok=True)
            print(f"luigid stopped (pid {pid})")
            return EXIT_OK
        time.sleep(0.1)  # bounded by the deadline above
    print(
        f"luigid (pid {pid}) did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM; see "
        f"{files.log}, then `kill -9 {pid}` if it must go",
        file=sys.stderr,
    )
    return EXIT_STOP_FAILED


# --- command line ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etl-scheduler", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    document(parser, __doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--background", action="store_true", help="detach, write a pid file, return once running"
    )
    mode.add_argument("--stop", action="store_true", help="stop the --background scheduler")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8082)")
    parser.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help="interface to listen on (default 127.0.0.1; others need --allow-remote)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --address: luigid has NO authentication",
    )
    parser.add_argument("--no-history", action="store_true", help="do not record task history")
    parser.add_argument(
        "--pidfile", default=None, help="pid file (default <output>/luigid/luigid.pid)"
    )
    parser.add_argument(
        "--log-file-only",
        action="store_true",
        help="log only to <logs>/luigid.log, not to stderr (what --background uses)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be 1..65535, got {args.port}")
    files = SchedulerFiles.for_project(args.pidfile)
    if args.stop:
        return stop(files)
    refusal = refuse_address(args.address, args.allow_remote)
    if refusal:
        print(f"etl-scheduler: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    if args.background:
        return start_background(args, files)
    return serve(args, files)


if __name__ == "__main__":
    sys.exit(main())
