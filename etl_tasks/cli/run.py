"""etl-run: validate, run RunAll for a date, print the final report (the original run_etl.py).

    etl-run                                   # Twitch, today (UTC)
    etl-run --date 2025-04-10                 # a given date
    etl-run --date 2025-04-10 --pipeline all  # Twitch and BTG
    etl-run --workers 4 --scheduler-url http://127.0.0.1:8082   # through luigid
    etl-run --date 2025-04-10 --plan          # the Twitch request plan and its time; calls nothing
    etl-run --lookback 3                      # also re-pull the videos/clips of the 3 days before

Exit codes: 0 success; 2 bad arguments; 3 configuration/validation failed; otherwise Luigi's
[retcode]: 10 already running, 20 missing data, 25 not run, 30 a task failed, 35 scheduling error,
40 unhandled exception. The report is written and printed in every case after validation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys

from luigi.configuration import get_config

from etl_tasks.alerts import rerun_command_for, send_run_alert
from etl_tasks.cli.common import EXIT_CONFIG, parse_date, run_luigi, select_pipelines
from etl_tasks.config import load_env, logs_root
from etl_tasks.core.logs import setup_logging
from etl_tasks.ops.lock import exit_if_locked
from etl_tasks.report import render_text, write_report
from etl_tasks.run_all import build_report
from etl_tasks.validate import run_checks

logger = logging.getLogger("etl_tasks.run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--date",
        type=parse_date,
        default=None,
        help="date to process, YYYY-MM-DD (default: today in UTC)",
    )
    parser.add_argument(
        "--pipeline",
        choices=["twitch", "btg", "all"],
        default="twitch",
        help="pipelines to run (default: twitch, like the original runner)",
    )
    parser.add_argument("--workers", type=int, default=1, help="Luigi worker processes (default 1)")
    parser.add_argument(
        "--scheduler-url", default=None, help="central luigid URL (default: the local scheduler)"
    )
    parser.add_argument("--no-validate", action="store_true", help="skip the set-up checks")
    parser.add_argument("--plan", action="store_true", help="print the Twitch request plan, exit")
    parser.add_argument("--lookback", type=int, default=None, metavar="N",
                        help="re-pull Twitch videos/clips of the N previous days too")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.workers < 1:
        build_parser().error("--workers must be at least 1")
    load_env()
    setup_logging("etl", logs_root())
    date: dt.date = args.date or dt.datetime.now(dt.timezone.utc).date()
    pipelines = ["twitch", "btg"] if args.pipeline == "all" else [args.pipeline]
    select_pipelines(pipelines)
    if args.lookback is not None:
        if args.lookback < 0:
            build_parser().error("--lookback must be 0 or more days")
        get_config().set("twitch", "lookback", str(args.lookback))
    if args.plan:
        from etl_tasks.twitch.plan import render_plan, request_plan

        print(render_plan(date, request_plan(date)), end="")
        return 0
    logger.info("etl-run: date %s, pipelines %s", date, ", ".join(pipelines))
    if not args.no_validate:
        failed = [check for check in run_checks(pipelines) if not check.ok]
        for check in failed:
            logger.error("setup check failed: %s", check.line())
        if failed:
            logger.error("fix the setup (run etl-validate for the full list) and run again")
            return EXIT_CONFIG
    with exit_if_locked(pipelines, [date]):  # a concurrent run of this date exits 10 here
        code = run_luigi(["RunAll", "--date", date.isoformat()], args.workers, args.scheduler_url)
    report = build_report(date, pipelines)
    directory = write_report(report)
    print(render_text(report), end="")
    print(f"report: {directory / 'report.txt'}")
    send_run_alert(report.to_json(), rerun_command_for(date, pipelines))
    if code == 0 and report.status not in ("SUCCESS", "SKIPPED"):
        code = 25  # Luigi said fine but a stage is missing: never report success on a gap
    logger.info("etl-run finished: %s (exit %d)", report.status, code)
    return code


if __name__ == "__main__":
    sys.exit(main())
