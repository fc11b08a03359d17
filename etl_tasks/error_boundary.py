"""Where a known failure becomes one line and an exit code instead of a traceback.

    @guarded("etl-run", config_exit=3)        # an entry point's main(): ConfigError -> one line, 3
    def main(argv=None) -> int: ...

    install()                                 # at import of etl_tasks: Luigi's logs and `luigi`

Errors the tool raises on purpose derive from :class:`~etl_tasks.errors.EtlError` and carry a
message that says what is wrong and how to fix it; a traceback under them only hides that line.
Tracebacks stay for everything else (bugs). Three boundaries:

* **Luigi's logs.** A task that raises logs ``Worker ... failed <task>`` with the traceback, and a
  ``complete()`` that raises logs the formatted traceback inside its warning. For an EtlError the
  filter installed on ``luigi-interface`` keeps the line and appends ``ConfigError: <message>``.
* **Our entry points.** :func:`guarded` turns an EtlError escaping ``main()`` (an unwritable
  ``[paths] logs_dir``, a bad ``luigi.cfg`` value) into one line on stderr and the documented code.
* **Plain ``luigi --module etl_tasks``.** Luigi reports its own command-line errors (a missing
  ``--date``, ``--workers abc``, an unknown task) as "Uncaught exception in luigi" with exit 40,
  or as a raw traceback with exit 1. In that process only, they become
  ``luigi: error: <message>`` and exit 2, as argparse does for the options it parses itself.
"""

from __future__ import annotations

import configparser
import contextlib
import functools
import importlib
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import NoReturn, TypeVar

from etl_tasks.errors import ConfigError, EtlError

EXIT_USAGE = 2
EXIT_CONFIG = 3
LUIGI_LOGGER = "luigi-interface"
# The last line of a formatted traceback: "etl_tasks.errors.LoadError: cannot connect ..."
_LAST_LINE = re.compile(r"^(?P<cls>etl_tasks(?:\.\w+)+)\.(?P<name>\w+): (?P<message>.*)$", re.S)

F = TypeVar("F", bound=Callable[..., int])


def is_luigi_command() -> bool:
    """Whether this process is Luigi's own command (``luigi …`` or ``python -m luigi …``)."""
    program = Path(sys.argv[0] if sys.argv else "")
    return program.name == "luigi" or (
        program.name == "__main__.py" and program.parent.name == "luigi"
    )


def one_line(error: BaseException) -> str:
    """``ConfigError: <message>`` on one line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _known_from_traceback(text: str) -> str | None:
    """``LoadError: <message>`` when a formatted traceback ends in one of our EtlErrors."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    # The exception line may wrap; take it from the last line that starts at column 0.
    start = max((i for i, line in enumerate(lines) if not line.startswith(" ")), default=0)
    match = _LAST_LINE.match("\n".join(lines[start:]))
    if not match:
        return None
    try:
        cls = getattr(importlib.import_module(match["cls"]), match["name"])
    except (ImportError, AttributeError):
        return None
    if not (isinstance(cls, type) and issubclass(cls, EtlError)):
        return None
    return f"{match['name']}: {' '.join(match['message'].split())}"


class KnownErrorFilter(logging.Filter):
    """Drops the traceback of a Luigi log record caused by an EtlError, keeping its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, EtlError):
            record.msg, record.args = f"{record.getMessage()}: {one_line(error)}", ()
            record.exc_info, record.exc_text = None, None
        elif isinstance(record.msg, str) and "\nTraceback (most recent call last)" in (
            message := record.getMessage()
        ):
            head, _, trace = message.partition("\nTraceback (most recent call last)")
            known = _known_from_traceback(trace)
            if known:
                record.msg, record.args = f"{head.rstrip(':')}: {known}", ()
        return True


class _LuigiCommandFilter(logging.Filter):
    """In the ``luigi`` process: "Uncaught exception in luigi" from a bad command line -> exit 2."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.msg != "Uncaught exception in luigi" or error is None:
            return True
        code = _luigi_usage_code(error)
        if code is None:
            return True
        print(f"luigi: error: {_luigi_message(error)}", file=sys.stderr, flush=True)
        # Raised inside Luigi's `except` block, so it replaces Luigi's sys.exit(40).
        raise SystemExit(code)


def _luigi_usage_code(error: BaseException) -> int | None:
    import luigi.parameter
    import luigi.task_register

    if isinstance(error, ConfigError):
        return EXIT_CONFIG
    if isinstance(
        error,
        luigi.parameter.ParameterException | luigi.task_register.TaskClassException | ValueError,
    ):
        return EXIT_USAGE
    return None


def _luigi_message(error: BaseException) -> str:
    text = " ".join(str(error).split())
    # "RunAll[args=(), kwargs={}]: requires the 'date' parameter to be set" -> "RunAll: requires..."
    text = re.sub(r"\[args=\(.*?\), kwargs=\{.*?\}\]", "", text)
    cause = error.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({' '.join(str(cause).split())})"
    return text


def _luigi_excepthook(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """Errors Luigi raises outside its own try (an unknown task name, a bad ``[retcode]``)."""
    code = _luigi_usage_code(error)
    if code is None:
        sys.__excepthook__(kind, error, trace)
        return
    print(f"luigi: error: {_luigi_message(error)}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(code)  # an excepthook cannot choose the exit status any other way


# Shared commands whose configuration error is not EXIT_CONFIG; pipelines declare their own.
_CONFIG_EXIT_BY_PROGRAM = {"etl-validate": 1, "luigi": EXIT_CONFIG}


def config_exit_code(program: str) -> int:
    """The configuration-error exit code of ``program`` (a pipeline's own command may keep its
    guide's code; the registry is read defensively: this runs while luigi.cfg is unreadable)."""
    codes = dict(_CONFIG_EXIT_BY_PROGRAM)
    with contextlib.suppress(Exception):
        from etl_tasks.pipelines import command_config_exits

        codes.update(command_config_exits())
    return codes.get(program, EXIT_CONFIG)


def exit_unreadable_config(error: Exception) -> NoReturn:
    """A luigi.cfg that does not parse (found by the first module that reads it, Luigi's or
    ours): one line, the command's code."""
    program = Path(sys.argv[0] if sys.argv else "").name
    print(f"{program or 'etl_tasks'}: cannot read luigi.cfg: {' '.join(str(error).split())}; "
          "fix that file", file=sys.stderr)
    raise SystemExit(config_exit_code(program))


_INSTALLED = False


def install() -> None:
    """Install the Luigi log filter, and in a ``luigi`` command the usage-error mapping (once)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    logger = logging.getLogger(LUIGI_LOGGER)
    logger.addFilter(KnownErrorFilter())
    if is_luigi_command():
        logger.addFilter(_LuigiCommandFilter())
        sys.excepthook = _luigi_excepthook


_PARAM = re.compile(r"default value of '(?P<name>\w+)'")


def bad_value_message(section: str, error: ValueError) -> str:
    """``luigi.cfg [twitch] page_size = 'abc' is not valid: invalid literal for int() ...``."""
    from luigi.configuration import get_config

    match = _PARAM.search(str(error))
    name = match["name"] if match else "?"
    value = get_config().get(section, name, None)
    cause = " ".join(str(error.__cause__ or error).split())
    shown = f" = {value!r}" if value is not None else ""
    return f"luigi.cfg [{section}] {name}{shown} is not valid: {cause}"


def _luigi_config_section(error: ValueError) -> str | None:
    """``retcode`` for Luigi's "retcode[args=(), kwargs={}]: Error when parsing the default value
    of 'task_failed'" (a luigi.cfg value of one of Luigi's own sections), else None."""
    match = re.match(r"^(\w+)\[args=.*Error when parsing the default value of '\w+'", str(error))
    return match.group(1) if match else None


def _console_logging() -> bool:
    return any(
        isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
        for handler in logging.getLogger().handlers
    )


def guarded(prog: str, *, config_exit: int = EXIT_CONFIG, failure_exit: int = 1,
            prefix: str = "", last_line: str | None = None) -> Callable[[F], F]:
    """Decorate an entry point's ``main``: an EtlError escaping it is one line and an exit code.

    ``ConfigError`` exits ``config_exit``, any other EtlError ``failure_exit``. The line goes to
    the log and to stderr (once), followed by ``last_line`` when given (``FALHA``)."""

    def decorate(main: F) -> F:
        @functools.wraps(main)
        def wrapper(*args: object, **kwargs: object) -> int:
            try:
                try:
                    return main(*args, **kwargs)
                except ValueError as error:  # Luigi's own [core]/[worker]/[retcode] values
                    section = _luigi_config_section(error)
                    if section is None:
                        raise
                    raise ConfigError(bad_value_message(section, error)) from None
                except configparser.Error as error:  # luigi.cfg read when Luigi is first needed
                    exit_unreadable_config(error)
            except EtlError as error:
                line = f"{prefix}{error}" if isinstance(error, ConfigError) else (
                    f"{prefix}{one_line(error)}"
                )
                logger = logging.getLogger(f"etl_tasks.{prog}")
                for text in (line, last_line):
                    if text:
                        if logging.getLogger().handlers:  # else logging's last resort prints it
                            logger.error("%s", text)
                        if not _console_logging():
                            print(f"{prog}: {text}", file=sys.stderr)
                return config_exit if isinstance(error, ConfigError) else failure_exit

        return wrapper  # type: ignore[return-value]

    return decorate
