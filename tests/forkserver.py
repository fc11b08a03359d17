"""Run an installed console command as a forked child of a pre-imported Python (bad-input table).

Starting ``etl-run --date abc`` as a new interpreter costs about 1.5 s of CPU, nearly all of it
importing Luigi, pyarrow and the project; the bad-input table runs ~260 such commands. A *fork
server* pays that once: one helper process per test process imports every console entry point and
then, for each command, forks a child that takes the command's working directory, environment,
``sys.argv``, stdin (``/dev/null``) and stdout/stderr (files), runs the entry point the way the
console script does (``sys.exit(main())``, an uncaught exception through ``sys.excepthook``), runs
the ``atexit`` handlers and exits with the entry point's code. Every case is still its own process
with its own exit code and output, nothing is mocked, and the test's assertions are unchanged.

The helper is single-threaded, so forking it is safe (forking pytest itself would not be: xdist and
HTTP fixtures run threads). Luigi's configuration is read afresh in the child from the child's own
directory and ``LUIGI_CONFIG_PATH``. What only an ``exec`` reproduces stays on
:func:`tests.cli_helpers.run_command`: plain ``luigi`` (its log filter depends on ``argv[0]`` at
import), a luigi.cfg that cannot be parsed at import, and a few cases per entry point so the
console-script path itself stays covered (see :mod:`tests.badinput.table`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.cli_helpers import BIN, Completed

# The helper's own code: it reads one JSON request a line on stdin, answers on stdout.
HELPER = r"""
import json, os, sys
from importlib.metadata import entry_points

WANTED = set(json.loads(sys.argv[1]))
MAINS = {ep.name: ep.load() for ep in entry_points(group="console_scripts") if ep.name in WANTED}
import luigi.configuration
from luigi.configuration import LuigiConfigParser, get_config
get_config()

def child(request):
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for fd, target in ((null, 0), (out, 1), (err, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])
    # Luigi's configuration as a new process reads it: ./luigi.cfg of this directory, then
    # LUIGI_CONFIG_PATH (what luigi.configuration does at import), over the packaged defaults.
    config = get_config()
    for section in config.sections():
        config.remove_section(section)
    if "LUIGI_CONFIG_PATH" in os.environ:
        LuigiConfigParser._config_paths.append(os.environ["LUIGI_CONFIG_PATH"])
    LuigiConfigParser.reload()
    try:
        code = MAINS[request["name"]]()
    except SystemExit as stop:
        code = stop.code
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        import atexit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code & 0xFF)

def answer(message):
    os.write(1, (json.dumps(message) + "\n").encode())

answer({"ready": sorted(MAINS)})
for line in sys.stdin.buffer:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            child(request)
        finally:  # child() never returns: this is a failure of the helper itself
            os._exit(99)
    answer({"id": request["id"], "pid": pid})
    _, status = os.waitpid(pid, 0)
    answer({"id": request["id"], "code": os.waitstatus_to_exitcode(status)})
"""

COMMANDS = [
    "etl-run",
    "etl-validate",
    "etl-sandbox",
    "orquestrador-btg",
    "etl-backfill",
    "etl-invalidate",
    "etl-scheduler",
]


class ForkServer:
    """The helper process (started on first use, one per test process, stopped at exit)."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="etl-forkserver-"))
        env = {k: v for k, v in os.environ.items() if k != "LUIGI_CONFIG_PATH"}
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-c", HELPER, json.dumps(COMMANDS)],
            cwd=self.directory,  # no luigi.cfg here: the child reads its own directory's
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.directory / "helper.err", "wb"),  # noqa: SIM115 (lives with it)
        )
        ready = self._read(120)
        assert ready is not None and sorted(ready["ready"]) == sorted(COMMANDS), ready
        self.count = 0

    def _read(self, timeout: float) -> dict | None:
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not readable:
            return None
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(
                "the fork server died: " + (self.directory / "helper.err").read_text()[-3000:]
            )
        return json.loads(line)

    def _answer(self, request_id: int, field: str, timeout: float) -> dict | None:
        """The answer carrying ``field`` for request ``request_id`` within ``timeout`` seconds
        (None if it does not come); answers of earlier requests still in the pipe are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(max(0.0, deadline - time.monotonic()))
            if message is None:
                return None
            if message.get("id") == request_id and field in message:
                return message

    def run(self, command: list[str], directory: Path, env: dict[str, str], timeout: float):
        assert self.process.stdin is not None
        self.count += 1
        out, err = self.directory / f"{self.count}.out", self.directory / f"{self.count}.err"
        request = {
            "id": self.count,
            "name": command[0],
            "argv": [str(BIN / command[0]), *command[1:]],
            "cwd": str(directory),
            "env": env,
            "out": str(out),
            "err": str(err),
        }
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        started = self._answer(self.count, "pid", 30)
        assert started is not None, "the fork server did not fork"
        done = self._answer(self.count, "code", timeout)
        if done is None:
            # The child may have finished in the meantime: then the helper has reaped it and
            # its answer is on the way, which the next command must not take for its own.
            with contextlib.suppress(ProcessLookupError):
                os.kill(started["pid"], signal.SIGKILL)
            self._answer(self.count, "code", 60)
            raise subprocess.TimeoutExpired(command, timeout)
        try:
            return Completed(
                done["code"],
                out.read_text(),
                err.read_text(),
            )
        finally:
            out.unlink(missing_ok=True)
            err.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for path in self.directory.iterdir():
            path.unlink()
        self.directory.rmdir()


_SERVER: ForkServer | None = None


def run_forked(
    command: list[str], directory: Path, env: dict[str, str], timeout: float = 240
) -> Completed:
    """Like :func:`tests.cli_helpers.run_command` for one of :data:`COMMANDS`, without the start-up
    cost of a new interpreter."""
    global _SERVER
    if command[0] not in COMMANDS:
        raise ValueError(f"{command[0]} is not a console entry point of the project")
    if _SERVER is None or _SERVER.process.poll() is not None:
        _SERVER = ForkServer()
        atexit.register(_SERVER.stop)
    return _SERVER.run(command, directory, env, timeout)
