"""etl-scheduler: luigid, Luigi's central scheduler and visualiser, with this project's defaults.

    etl-scheduler                                # foreground on http://127.0.0.1:8082 (systemd)
    etl-scheduler --port 8090 --background       # luigid's daemon mode, pid in output/luigid/
    kill "$(cat output/luigid/luigid.pid)"       # stop it (SIGTERM: it saves its state first)
    python -m etl_tasks.cli.scheduler ...        # the same without the installed command

It runs luigid itself, in this process, with luigid's own options (``--background``,
``--pidfile``, ``--logdir``, ``--state-path``, ``--address``, ``--port``) and two additions:

* **Loopback only.** luigid has no authentication and, by default, listens on every interface:
  anyone who reaches the port can read every task's parameters and mark tasks done or failed. So
  ``--address`` defaults to 127.0.0.1 and another address is refused unless ``--allow-remote``
  says the network around it is trusted (firewall, VPN). Workers on other hosts can reach a
  loopback-only scheduler through an SSH tunnel.
* **Task history** in ``<output>/luigid/history.db`` (unless ``[task_history] db_connection``
  names another database). It needs SQLAlchemy < 2 (``pip install -e '.[history]'``): luigi
  3.8.1's history crashes at start-up with SQLAlchemy 2, so with 2.x or none installed the
  scheduler runs without history and says so (``--no-history`` turns it off on purpose).

Defaults (``[paths]`` of luigi.cfg, made absolute): ``--state-path
<output>/luigid/luigi-state.pickle`` (state kept across restarts); with ``--background``,
``--pidfile <output>/luigid/luigid.pid`` and ``--logdir <logs>/luigid`` (luigid writes
``luigi-server.log`` there). In the foreground luigid logs to stderr.

Workers then use it with ``luigi --module etl_tasks RunAll --date D --scheduler-url
http://127.0.0.1:8082 --workers N`` (or ``etl-run --scheduler-url ...``).

Exit codes: 0 ok (also after a clean shutdown by SIGTERM/SIGINT; with ``--background``, once
luigid has detached: a daemon that then fails, e.g. on a busy port, says why in
``<logdir>/luigi-server-<date>.err``); 2 bad arguments or a refused address; 3 the port is in use
(foreground); 10 the ``--background`` scheduler of this pid file is already running.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import sys
from pathlib import Path

import luigi.cmdline
import luigi.configuration
import luigi.process

from etl_tasks.cli.parsers import document
from etl_tasks.config import logs_root, output_root

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8082
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PORT_IN_USE = 3
EXIT_ALREADY_RUNNING = 10  # the number luigi.cfg [retcode] gives "already running"


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


def configure_history(enabled: bool, database: Path) -> None:
    """Switch luigid's task history on or off in this process's Luigi configuration (luigid
    runs here and reads it when it builds its scheduler); luigi.cfg is never edited."""
    config = luigi.configuration.get_config()
    config.set("scheduler", "record_task_history", "true" if enabled else "false")
    if enabled and not config.get("task_history", "db_connection", None):
        database.parent.mkdir(parents=True, exist_ok=True)
        # luigi's parser interpolates % on read
        config.set("task_history", "db_connection", f"sqlite:///{database}".replace("%", "%%"))


def private_directory(path: Path) -> Path:
    """``path`` created and readable by its owner only: luigid's daemon mode runs with umask 0,
    so the files it creates (the state pickle it loads at start-up, the pid file, its logs) are
    world-writable; a private directory keeps other users away from them."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def luigid_argv(args: argparse.Namespace) -> list[str]:
    """luigid's own options, with this project's defaults filled in (absolute paths: a daemon
    must not depend on the directory it was started from)."""
    directory = private_directory((output_root() / "luigid").resolve())
    argv = ["--address", args.address, "--port", str(args.port)]
    argv += ["--state-path", str(Path(args.state_path or directory / "luigi-state.pickle"))]
    if args.background:
        argv += ["--background", "--pidfile", str(Path(args.pidfile or directory / "luigid.pid"))]
        logdir = Path(args.logdir) if args.logdir else private_directory(logs_root() / "luigid")
        argv += ["--logdir", str(logdir.resolve())]
    else:
        argv += ["--pidfile", args.pidfile] if args.pidfile else []
        argv += ["--logdir", args.logdir] if args.logdir else []
    return argv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etl-scheduler", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    document(parser, __doc__)
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
    parser.add_argument("--background", action="store_true", help="luigid's daemon mode")
    parser.add_argument("--pidfile", help="pid file (default with --background: "
                        "<output>/luigid/luigid.pid)")
    parser.add_argument("--logdir", help="luigid's log directory (default with --background: "
                        "<logs>/luigid; in the foreground luigid logs to stderr)")
    parser.add_argument("--state-path", help="scheduler state file "
                        "(default <output>/luigid/luigi-state.pickle)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be 1..65535, got {args.port}")
    refusal = refuse_address(args.address, args.allow_remote)
    if refusal:
        print(f"etl-scheduler: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    if args.allow_remote and not is_loopback(args.address):
        print(f"etl-scheduler: WARNING: luigid listens on {args.address} with NO authentication",
              file=sys.stderr)
    command = luigid_argv(args)
    if args.background:
        pidfile = command[command.index("--pidfile") + 1]
        running = luigi.process.check_pid(pidfile)  # luigid's own liveness check
        if running:
            print(f"etl-scheduler: luigid is already running (pid {running}, pid file {pidfile})",
                  file=sys.stderr)
            return EXIT_ALREADY_RUNNING
    history, reason = (
        (False, "--no-history given") if args.no_history else history_support(sqlalchemy_version())
    )
    configure_history(history, (output_root() / "luigid" / "history.db").resolve())
    print(f"etl-scheduler: task history {'ON' if history else 'OFF'}: {reason}; luigid "
          f"{' '.join(command)}", file=sys.stderr)
    # Workers ping every second; one access line per ping would bury everything else.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    try:
        luigi.cmdline.luigid(command)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(f"etl-scheduler: port {args.port} on {args.address} is already in use (another "
              "luigid?); choose another --port or stop what holds it", file=sys.stderr)
        return EXIT_PORT_IN_USE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
