"""``python -m etl_tasks``: list the commands, or run one of them.

    python -m etl_tasks                              # the commands, one line each
    python -m etl_tasks etl-run --date 2025-04-10    # exactly `etl-run --date 2025-04-10`
    python -m etl_tasks run --date 2025-04-10        # the same ("etl-" may be left out)
    python -m etl_tasks --version

The commands are the package's console scripts (its metadata), so this list is the installed one.
Exit codes: 0 for the list; 2 an unknown command (the valid names are printed); otherwise the
exit code of the command that ran.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable

from etl_tasks.cli.parsers import DISTRIBUTION, epilog, version_line

EXIT_USAGE = 2
ALSO = """also:
  luigi --module etl_tasks RunAll --date 2025-04-10 --local-scheduler   Luigi's own command line
  python -m etl_tasks.demo                                               the demo (make demo)
  python -m etl_tasks.status_page                                        rebuild the status page
run `python -m etl_tasks COMMAND --help` (or `COMMAND --help`) for options, examples, exit codes"""


def commands() -> dict[str, importlib.metadata.EntryPoint]:
    """The console scripts of the installed distribution, by name."""
    try:
        points = importlib.metadata.distribution(DISTRIBUTION).entry_points
    except importlib.metadata.PackageNotFoundError:
        return {}
    return {point.name: point for point in points if point.group == "console_scripts"}


def summary(point: importlib.metadata.EntryPoint) -> str:
    """The first docstring line of the command's module (without its "name: " prefix)."""
    module = sys.modules.get(point.module) or importlib.import_module(point.module)
    first = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
    return first.split(": ", 1)[-1] if first.startswith(point.name) else first


def listing(found: dict[str, importlib.metadata.EntryPoint]) -> str:
    if not found:
        return "etl_tasks is not installed as a distribution: run `pip install -e .` (make install)"
    width = max(len(name) for name in found)
    lines = [f"  {name.ljust(width)}  {summary(point)}" for name, point in sorted(found.items())]
    return "commands of etl_tasks (python -m etl_tasks COMMAND ...):\n" + "\n".join(lines) + "\n"


def resolve(
    name: str, found: dict[str, importlib.metadata.EntryPoint]
) -> Callable[..., int] | None:
    point = found.get(name) or found.get(f"etl-{name}")
    return point.load() if point else None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    found = commands()
    if not args or args[0] in ("-h", "--help"):
        print((epilog(__doc__) + "\n\n") if args else "", end="")
        print(listing(found) + ALSO)
        return 0
    if args[0] == "--version":
        print(version_line("etl_tasks"))
        return 0
    command = resolve(args[0], found)
    if command is None:
        print(f"python -m etl_tasks: unknown command {args[0]!r}.\n" + listing(found),
              file=sys.stderr)
        return EXIT_USAGE
    sys.argv[0] = args[0]
    return int(command(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
