"""etl-validate: check that everything a run needs is in place, one line per check.

    etl-validate                      # every pipeline on in [pipelines]
    etl-validate --pipeline NAME      # only what one registered pipeline needs
    etl-validate --offline            # skip the warehouse and API checks

Nothing is created: directories and a SQLite warehouse that do not exist yet are reported as
"will be created by the first run" (after checking that their parent is writable).

Exit codes: 0 every check passed; 1 a check failed (each failure says how to fix it); 2 bad
arguments; 3 configuration error (e.g. ETL_ENV_FILE names a file that does not exist).
"""

from __future__ import annotations

import argparse
import sys

from etl_tasks import pipelines as registry
from etl_tasks.cli.common import parse_pipelines
from etl_tasks.cli.parsers import document, one_line_config_errors
from etl_tasks.error_boundary import guarded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-validate", description=__doc__.split("\n\n")[0])
    document(parser, __doc__)
    parser.add_argument(
        "--pipeline",
        type=parse_pipelines,
        default=None,
        metavar="|".join([*registry.names(), "all"]),
        help="which pipelines' requirements to check: a name, a comma-separated list, or all "
        "(default: the ones on in [pipelines])",
    )
    parser.add_argument("--offline", action="store_true", help="skip warehouse and API checks")
    return parser


def pipelines_from(choice: list[str] | None) -> list[str]:
    return choice if choice else registry.enabled()


@guarded("etl-validate", config_exit=1, failure_exit=1)
@one_line_config_errors("etl-validate")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from etl_tasks.validate import run_checks  # Luigi and the clients: after the arguments

    print("🔍 === VALIDAÇÃO DO SETUP ===")
    checks = run_checks(pipelines_from(args.pipeline), network=not args.offline)
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(failed)}/{len(checks)} checks passed")
    print("✅ SETUP OK" if not failed else f"❌ {len(failed)} problem(s) to fix before running")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
