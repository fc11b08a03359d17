"""The demo: the whole tool against the bundled sandbox, no credentials or server needed.

    python -m etl_tasks.demo                       # what `make demo` runs
    python -m etl_tasks.demo --date 2025-04-10 --warehouse-url postgresql://postgres@127.0.0.1/test

Starts the sandbox on a free port (seed 42, clock 2025-04-10T15:00:00Z), points the API clients
at it, runs ``etl-run --pipeline all`` for the date into SQLite under ``output/warehouse/`` (or the
given warehouse), prints the report, stops the sandbox and exits with the run's exit code.
Running it again executes no stage: every target already exists.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from etl_sandbox.launcher import running_sandbox
from etl_tasks.cli import run as etl_run
from etl_tasks.cli.common import parse_date

DEMO_DATE = dt.date(2025, 4, 10)
DEMO_WAREHOUSE = "sqlite:///output/warehouse/demo.db"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m etl_tasks.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--date", type=parse_date, default=DEMO_DATE, help="date (default 2025-04-10)"
    )
    parser.add_argument(
        "--warehouse-url",
        default=DEMO_WAREHOUSE,
        help=f"warehouse for both pipelines (default {DEMO_WAREHOUSE})",
    )
    parser.add_argument("--pipeline", choices=["twitch", "btg", "all"], default="all")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(f"🚀 demo: starting the sandbox (Twitch + BTG APIs on 127.0.0.1), date {args.date}")
    with running_sandbox() as sandbox:
        sandbox.control("reset", {"seed": 42})
        sandbox.control("clock", {"now": f"{args.date.isoformat()}T15:00:00Z"})
        # The demo must never touch real services or the user's warehouse: override .env.
        os.environ.update(sandbox.client_env())
        os.environ["WAREHOUSE_URL"] = args.warehouse_url
        for key in ("TWITCH_WAREHOUSE_URL", "BTG_WAREHOUSE_URL"):
            os.environ.pop(key, None)
        code = etl_run.main(["--date", args.date.isoformat(), "--pipeline", args.pipeline])
    print(f"🏁 demo finished with exit code {code}; sandbox stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
