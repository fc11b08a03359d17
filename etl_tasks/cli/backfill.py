"""etl-backfill: run (or plan) every date of a range, resuming where an earlier attempt stopped.

    etl-backfill --start 2025-01-01 --end 2025-03-31                  # the default pipeline
    etl-backfill --start 2025-01-01 --end 2025-03-31 --pipeline NAME  # that pipeline's calendar
    etl-backfill --start 2025-01-01 --end 2025-03-31 --pipeline all --plan   # grid, runs nothing
    etl-backfill --start 2025-01-01 --end 2025-03-31 --workers 2 --scheduler-url http://127.0.0.1:8082
    python -m etl_tasks.cli.backfill ...                              # the same command

Both ends are inclusive and there is no cap on the number of dates (unlike Luigi's RangeDaily,
which stops at 100 days / 50 tasks). Dates run in order, one ``luigi.build`` of ``RunAll`` per
date, under that date's run locks; only missing or failed stages run, so running the command
again after an interruption or a failure finishes the job. A progress line follows every date:
``backfill <pipelines>: 12/30 dates done (2 failed, 1 skipped)`` — *skipped* counts dates with a
stage skipped by design (a live snapshot of a past date). ``--plan`` prints a dates x stages grid
of done / missing / failed / skipped from the sidecars and load markers only (no API call).

Exit codes: 0 every date done (or skipped by design); 2 bad arguments; 3 configuration or
validation failed; 10 a date was left alone because another run holds its lock (and none failed);
30 a date failed (listed at the end).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from etl_tasks import pipelines as registry
from etl_tasks.alerts import send_run_alert
from etl_tasks.cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    add_pipeline_option,
    config_error_exit,
    end_of_run,
    parse_date,
    validated,
)
from etl_tasks.cli.parsers import document, one_line_config_errors
from etl_tasks.config import load_env, logs_root
from etl_tasks.core.logs import setup_logging
from etl_tasks.error_boundary import guarded
from etl_tasks.errors import ConfigError
from etl_tasks.ops.backfill import FAILED, LOCKED, DateOutcome, Progress, run_backfill
from etl_tasks.ops.dates import calendars_text, schedule
from etl_tasks.ops.lock import EXIT_ALREADY_RUNNING
from etl_tasks.ops.runs import RunRecord
from etl_tasks.report import read_report

logger = logging.getLogger("etl_tasks.backfill")

EXIT_DATE_FAILED = 30  # Luigi's [retcode] task_failed
MAX_SKIP_NOTES = 5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-backfill", description=__doc__.split("\n\n")[0])
    document(parser, __doc__)
    parser.add_argument(
        "--start", type=parse_date, required=True, help="first date, YYYY-MM-DD (inclusive)"
    )
    parser.add_argument(
        "--end", type=parse_date, required=True, help="last date, YYYY-MM-DD (inclusive)"
    )
    add_pipeline_option(parser, "backfill")
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print the dates x stages grid and exit; runs nothing, calls no API",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="Luigi worker processes per date (default 1)"
    )
    parser.add_argument(
        "--scheduler-url", default=None, help="central luigid URL (default: the local scheduler)"
    )
    parser.add_argument("--no-validate", action="store_true", help="skip the set-up checks")
    return parser


def print_progress(progress: Progress, outcome: DateOutcome) -> None:
    """The progress line after each date, with what happened to that date."""
    detail = outcome.result + (f": {outcome.errors[0]}" if outcome.errors else "")
    print(f"{progress.line()}; {outcome.date} {detail}", flush=True)


def print_summary(progress: Progress) -> int:
    """The closing lines: failed and locked dates, skip reasons; returns the exit code."""
    failed = [o for o in progress.outcomes if o.result == FAILED]
    locked = [o for o in progress.outcomes if o.result == LOCKED]
    ran = progress.count("ran")
    print(f"{progress.line()}: {ran} ran, {progress.count('complete')} were already complete")
    notes = sorted({note.split(":", 1)[0] for o in progress.outcomes for note in o.skipped})
    for subject in notes[:MAX_SKIP_NOTES]:
        dates = [o for o in progress.outcomes if any(n.startswith(subject) for n in o.skipped)]
        example = next(n for n in dates[-1].skipped if n.startswith(subject))
        print(f"skipped by design on {len(dates)} date(s): {example}")
    for outcome in locked:
        print(f"left alone (locked): {outcome.date}: {outcome.errors[0]}")
    if failed:
        print(f"failed dates ({len(failed)}): " + ", ".join(str(o.date) for o in failed))
        for outcome in failed:
            for error in outcome.errors:
                print(f"  {outcome.date}: {error}")
        print("run the same command again to retry them (finished stages are kept)")
        return EXIT_DATE_FAILED
    return EXIT_ALREADY_RUNNING if locked else EXIT_OK


@guarded("etl-backfill", config_exit=3, failure_exit=40)
@one_line_config_errors("etl-backfill")
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    pipelines: list[str] = args.pipeline
    args.label = registry.selection_text(pipelines)
    try:
        dates = schedule(args.start, args.end, pipelines)
    except ConfigError as error:
        parser.error(str(error))
    load_env()
    args.log = setup_logging("etl", logs_root(), console=not args.plan)
    args.argv = sys.argv[1:] if argv is None else argv
    try:
        return plan_or_run(args, pipelines, dates)
    except ConfigError as error:
        return config_error_exit(error)


def plan_or_run(
    args: argparse.Namespace, pipelines: list[str], dates: list[tuple[dt.date, list[str]]]
) -> int:
    """Plan or run the scheduled dates; returns the exit code."""
    span = f"{args.start} .. {args.end}"
    if not dates:
        print(f"backfill {args.label}: no date to run in {span} ({calendars_text(pipelines)})")
        return EXIT_OK
    if args.plan:
        title = f"backfill plan: {', '.join(pipelines)}, {span} ({len(dates)} dates); runs nothing"
        from etl_tasks.ops.plan import build_plan, render_plan  # reads the task graph

        print(render_plan(build_plan(dates), title), end="")
        return EXIT_OK
    if not args.no_validate and not validated(pipelines):
        return EXIT_CONFIG
    record = RunRecord.start(
        "etl-backfill", args.argv, pipelines, [day for day, _ in dates], log=args.log
    )
    logger.info("etl-backfill: %s, %d dates, pipelines %s, run %s", span, len(dates),
                ", ".join(pipelines), record.run_id)
    print(f"backfill {args.label}: {len(dates)} dates, {span}", flush=True)
    progress = run_backfill(
        dates, args.label, record, args.workers, args.scheduler_url, print_progress
    )
    code = print_summary(progress)
    logger.info("etl-backfill finished: %s (exit %d)", progress.line(), code)
    alert_backfill(progress, args)
    ran = [family for outcome in progress.outcomes for family in outcome.tasks_run]
    status = "FAILED" if progress.count(FAILED) else ("LOCKED" if progress.count(LOCKED)
                                                      else "SUCCESS")
    end_of_run(record, code, status, ran)
    print(record.line())
    return code


def alert_backfill(progress: Progress, args: argparse.Namespace) -> None:
    """One alert for the whole backfill (never one per date): the last failed date's report,
    the list of every failed date, and the backfill command that resumes the range."""
    failed = [outcome for outcome in progress.outcomes if outcome.result == FAILED]
    last = failed[-1] if failed else (progress.outcomes[-1] if progress.outcomes else None)
    document = read_report(last.date) if last else None
    if document is None:
        return
    if failed:
        listing = ", ".join(outcome.date.isoformat() for outcome in failed)
        document["errors"] = [
            f"backfill {args.start}..{args.end}: {len(failed)} date(s) failed: {listing}",
            *document.get("errors", []),
        ]
        document["status"] = "FAILED"
    command = (
        f"cd {Path.cwd()} && etl-backfill --start {args.start} --end {args.end}"
        f" --pipeline {args.label}"
    )
    send_run_alert(document, command)


if __name__ == "__main__":
    sys.exit(main())
