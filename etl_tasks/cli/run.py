"""etl-run: validate, run RunAll for a date, print the state of the date (the original run_etl.py).

    etl-run                                   # the default pipeline(s), today (UTC)
    etl-run --date 2025-04-10                 # a given date
    etl-run --date 2025-04-10 --pipeline all  # every pipeline (or a comma-separated list)
    etl-run --workers 4 --scheduler-url http://127.0.0.1:8082   # through luigid
    etl-run --date 2025-04-10 --plan          # each pipeline's request plan and time; calls nothing
    etl-run --lookback 3                      # a pipeline's own option (listed below)

Exit codes: 0 success; 2 bad arguments; 3 configuration/validation failed; otherwise Luigi's
[retcode]: 10 already running, 20 missing data, 25 not run, 30 a task failed, 35 scheduling error,
40 unhandled exception. After validation the date's report (every pipeline's state) is written and
printed, then the run record (also appended to output/runs.jsonl). A date that is already complete
is answered from its sidecars and markers without running anything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from typing import Any

# Only what a no-op rerun needs is imported here (no Luigi, Arrow or pandas: see
# etl_tasks.ops.noop); validation, the scheduler probe and a build import theirs when used.
from etl_tasks.alerts import send_run_alert
from etl_tasks.cli.common import (
    EXIT_CONFIG,
    add_pipeline_option,
    end_of_run,
    parse_date,
    validated,
)
from etl_tasks.cli.parsers import document, one_line_config_errors
from etl_tasks.config import load_env, logs_root
from etl_tasks.core.logs import setup_logging
from etl_tasks.error_boundary import guarded
from etl_tasks.ops.driver import RunRequest, run_date
from etl_tasks.ops.lock import EXIT_ALREADY_RUNNING
from etl_tasks.ops.runs import RunRecord
from etl_tasks.pipelines import get, registered, rerun_command
from etl_tasks.report import render_text, report_dir

logger = logging.getLogger("etl_tasks.run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-run", description=__doc__.split("\n\n")[0])
    document(parser, __doc__)
    parser.add_argument(
        "--date",
        type=parse_date,
        default=None,
        help="date to process, YYYY-MM-DD (default: today in UTC)",
    )
    add_pipeline_option(parser)
    parser.add_argument("--workers", type=int, default=1, help="Luigi worker processes (default 1)")
    parser.add_argument(
        "--scheduler-url", default=None, help="central luigid URL (default: the local scheduler)"
    )
    parser.add_argument("--no-validate", action="store_true", help="skip the set-up checks")
    parser.add_argument(
        "--plan", action="store_true", help="print the request plan of each pipeline that has one"
    )
    for pipeline in registered():
        for option in pipeline.run_options:
            parser.add_argument(
                option.flag,
                dest=option_dest(pipeline.name, option.key),
                type=option.type,
                default=None,
                metavar=option.metavar,
                help=option.help,
            )
    return parser


def option_dest(pipeline: str, key: str) -> str:
    """The argparse destination of one pipeline's run option."""
    return f"option__{pipeline}__{key}"


def run_options(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> dict[str, dict[str, Any]]:
    """The pipelines' options given on the command line, checked (``{pipeline: {key: value}}``)."""
    chosen: dict[str, dict[str, Any]] = {}
    for pipeline in registered():
        for option in pipeline.run_options:
            value = getattr(args, option_dest(pipeline.name, option.key))
            if value is None:
                continue
            problem = option.check(value) if option.check else None
            if problem:
                parser.error(problem)
            chosen.setdefault(pipeline.name, {})[option.key] = value
    return chosen


@guarded("etl-run", config_exit=3, failure_exit=40)
@one_line_config_errors("etl-run")
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    options = run_options(args, parser)
    if args.scheduler_url:  # a dead luigid: one line and exit 3, before any lock or report
        from etl_tasks.ops.preflight import check_scheduler

        check_scheduler(args.scheduler_url)
    load_env()
    log = setup_logging("etl", logs_root())
    date: dt.date = args.date or dt.datetime.now(dt.timezone.utc).date()
    pipelines: list[str] = args.pipeline
    if args.plan:
        planned = [get(name) for name in pipelines if get(name).plan is not None]
        if not planned:
            parser.error(f"no request plan for {', '.join(pipelines)}: none of them declares one")
        for pipeline in planned:
            print(pipeline.plan(date, options.get(pipeline.name, {})), end="")
        return 0
    arguments = sys.argv[1:] if argv is None else argv
    record = RunRecord.start("etl-run", arguments, pipelines, [date], log=log)
    logger.info("etl-run: date %s, pipelines %s, run %s", date, ", ".join(pipelines), record.run_id)
    if not args.no_validate and not validated(pipelines):
        end_of_run(record, EXIT_CONFIG, "SETUP FAILED", [])
        print(record.line())
        return EXIT_CONFIG
    request = RunRequest(date, pipelines, args.workers, args.scheduler_url, options=options)
    result = run_date(request, record)
    if result.crash:
        logger.error("the run stopped: %s", result.crash)
    if result.locked:
        logger.error("%s; this run exits without touching anything", result.locked)
        print(f"{result.locked}; run it again once that run has finished.", file=sys.stderr)
    else:
        print(render_text(result.state), end="")
        print(f"report: {report_dir(date) / 'report.txt'}")
        send_run_alert(result.scope.to_json(), rerun_command(date, pipelines))
    end_of_run(record, result.exit_code, result.status, result.tasks_run)
    logger.info("etl-run finished: %s (exit %d)", result.status, result.exit_code)
    print(record.line())
    return EXIT_ALREADY_RUNNING if result.locked else result.exit_code


if __name__ == "__main__":
    sys.exit(main())
