"""etl-validate: check that everything a run needs is in place, one line per check.

    etl-validate                      # every enabled pipeline
    etl-validate --pipeline twitch    # only what the Twitch pipeline needs
    etl-validate --offline            # skip the warehouse and API checks

Exit 0 when every check passes, 1 otherwise; each failure says how to fix it.
"""

from __future__ import annotations

import argparse
import sys

from etl_tasks.error_boundary import guarded
from etl_tasks.run_all import enabled_pipelines
from etl_tasks.validate import run_checks


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-validate", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pipeline",
        choices=["twitch", "btg", "all"],
        default=None,
        help="which pipeline's requirements to check (default: the enabled ones)",
    )
    parser.add_argument("--offline", action="store_true", help="skip warehouse and API checks")
    return parser


def pipelines_from(choice: str | None) -> list[str]:
    if choice in (None, ""):
        return enabled_pipelines()
    return ["twitch", "btg"] if choice == "all" else [choice]


@guarded("etl-validate", config_exit=1, failure_exit=1)
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
