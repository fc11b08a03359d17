"""What every command shares on its command line: ``--version``, a ``--help`` that ends with the
command's examples and exit codes, and one-line configuration errors.

    parser = document(argparse.ArgumentParser(prog="etl-run", ...), __doc__)

:func:`document` takes the examples and exit codes from the command module's docstring (every
command module opens with its command lines and ends with its exit codes), so the help text and
the code's documentation cannot drift apart. :func:`one_line_config_errors` turns a
:class:`~etl_tasks.errors.ConfigError` escaping a command's ``main`` (e.g. ``ETL_ENV_FILE`` naming
a missing file) into one line on stderr and the documented exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import sys
import textwrap
from collections.abc import Callable
from typing import TypeVar

from etl_tasks.errors import ConfigError

DISTRIBUTION = "etl_tasks"
EXIT_CONFIG = 3  # "configuration error" (a pipeline's own command may keep its guide's code)

Main = TypeVar("Main", bound=Callable[..., int])


def package_version(distribution: str = DISTRIBUTION) -> str:
    """The installed version of a distribution, from its package metadata."""
    import importlib.metadata  # reads every distribution's metadata: only for --version

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def version_line(prog: str) -> str:
    """What ``<command> --version`` prints: the package, Luigi and Python versions."""
    import platform

    return (
        f"{prog} {package_version()} (etl_tasks; luigi {package_version('luigi')}, "
        f"Python {platform.python_version()})"
    )


def epilog(doc: str | None) -> str:
    """The module docstring without its first line: examples, behaviour, exit codes."""
    if not doc:
        return ""
    _, _, rest = doc.strip("\n").partition("\n")
    return textwrap.dedent(rest).strip("\n")


VERSION_HELP = "print the version of etl_tasks (and of Luigi and Python) and exit"


def document(
    parser: argparse.ArgumentParser, doc: str | None, version_help: str = VERSION_HELP
) -> argparse.ArgumentParser:
    """Add ``--version`` and the module docstring as the ``--help`` epilog (layout kept);
    ``version_help`` lets a command in another language word its option."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = epilog(doc)
    parser.add_argument("--version", action=_Version, help=version_help)
    return parser


class _Version(argparse.Action):
    """argparse's ``version`` action with the line computed when asked for (reading the
    packages' metadata costs every run of a command that never prints it)."""

    def __init__(
        self,
        option_strings: list[str],
        dest: str = argparse.SUPPRESS,
        default: str = argparse.SUPPRESS,
        help: str | None = None,
    ) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        formatter = parser._get_formatter()  # as argparse's own: the same wrapping
        formatter.add_text(version_line(parser.prog))
        parser._print_message(formatter.format_help(), sys.stdout)
        parser.exit()


def one_line_config_errors(
    prog: str, code: int = EXIT_CONFIG, label: str = "configuration error"
) -> Callable[[Main], Main]:
    """Decorate a command's ``main``: a ConfigError it lets escape becomes one stderr line
    ``<prog>: <label>: ...`` and exit ``code``."""

    def decorate(main: Main) -> Main:
        @functools.wraps(main)
        def guarded(*args: object, **kwargs: object) -> int:
            try:
                return main(*args, **kwargs)
            except ConfigError as error:
                print(f"{prog}: {label}: {error}", file=sys.stderr)
                return code

        return guarded  # type: ignore[return-value]

    return decorate
