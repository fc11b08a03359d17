"""etl-invalidate: force a task and everything downstream of it to run again on the next run.

    etl-invalidate --task TASK --date 2025-04-10 --dry-run   # print the plan only
    etl-invalidate --task TASK --date 2025-04-10             # remove, then:
    etl-run --date 2025-04-10                                # redoes exactly those
    etl-invalidate --task TASK --start 2025-04-01 --end 2025-04-30
    python -m etl_tasks.cli.invalidate ...                   # the same command

The task is found in the ``RunAll`` graph of each date (every registered pipeline) and
everything that depends on it, transitively, is invalidated with it: e.g.
a transform → the loads that read it → ReportTask. Removed: stage partitions (data, sidecar,
failure file) and the warehouse load markers (not the rows: the rerun's partition load replaces
them); then the date's report is rewritten from the new state (what was removed shows NOT RUN) and
a run record is printed and appended to output/runs.jsonl. The plan lists per date exactly what
goes; ``--dry-run`` stops there. Non-interactive (safe in scripts); it refuses to touch a date
while a run of it holds the run lock.

Exit codes: 0 done (or dry run); 1 a removal failed (e.g. the warehouse is down: nothing of that
date's files was touched, run again once it is back); 2 bad arguments or unknown task name (the
valid names are listed); 3 configuration error; 10 another run holds a date's lock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from typing import TYPE_CHECKING

from etl_tasks import pipelines as registry
from etl_tasks.cli.common import EXIT_OK, EXIT_USAGE, config_error_exit, end_of_run, parse_date
from etl_tasks.cli.parsers import document, one_line_config_errors
from etl_tasks.config import load_env, logs_root
from etl_tasks.core.logs import setup_logging
from etl_tasks.error_boundary import guarded
from etl_tasks.errors import ConfigError, EtlError
from etl_tasks.ops.dates import calendar_days
from etl_tasks.ops.lock import current_holder, exit_if_locked
from etl_tasks.ops.runs import RunRecord

if TYPE_CHECKING:  # the task graph and the plans need Luigi: imported once the arguments parse
    from etl_tasks.ops.invalidation import DatePlan

logger = logging.getLogger("etl_tasks.invalidate")

EXIT_REMOVAL_FAILED = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-invalidate", description=__doc__.split("\n\n")[0])
    document(parser, __doc__)
    parser.add_argument("--task", required=True,
                        help="task family, exactly as Luigi names it (a wrong name lists them all)")
    parser.add_argument("--date", type=parse_date, help="one date, YYYY-MM-DD")
    parser.add_argument("--start", type=parse_date, help="first date of a range (inclusive)")
    parser.add_argument("--end", type=parse_date, help="last date of a range (inclusive)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, remove nothing")
    return parser


def chosen_dates(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[dt.date]:
    """``--date`` alone, or ``--start`` with ``--end``."""
    if args.date and (args.start or args.end):
        parser.error("give either --date or --start/--end, not both")
    if args.date:
        return [args.date]
    if not (args.start and args.end):
        parser.error("give --date D, or --start D1 --end D2")
    try:
        return calendar_days(args.start, args.end)
    except ConfigError as error:
        parser.error(str(error))


def unknown_task_exit(name: str, families: list[str]) -> int:
    """The error for a name that is not a task of the graph, with every valid name."""
    print(
        f"etl-invalidate: unknown task {name!r}. Valid task names (case-sensitive):\n  "
        + "\n  ".join(families),
        file=sys.stderr,
    )
    return EXIT_USAGE


def print_plans(plans: list[DatePlan], family: str) -> None:
    from etl_tasks.ops.invalidation import render_date

    print(f"invalidate {family} and everything downstream of it on {len(plans)} date(s):")
    for plan in plans:
        print("\n".join(render_date(plan)))


def locked_notes(plans: list[DatePlan], pipelines: list[str]) -> None:
    """For a dry run: say which dates a real run would refuse because a run holds them."""
    for plan in plans:
        for pipeline in pipelines:
            holder = current_holder(pipeline, plan.date)
            if holder is not None:
                print(f"note: {pipeline} {plan.date} is being run now ({holder.describe()}); "
                      "a real invalidation would refuse it (exit 10)")


@guarded("etl-invalidate", config_exit=3, failure_exit=1)
@one_line_config_errors("etl-invalidate")
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    dates = chosen_dates(parser, args)
    load_env()
    setup_logging("etl", logs_root())
    from etl_tasks.core.stage import StageTask
    from etl_tasks.ops.graph import TaskGraph
    from etl_tasks.ops.invalidation import plan_date
    from etl_tasks.ops.warehouse_view import WarehouseView
    from etl_tasks.run_all import RunAll

    try:
        graph = TaskGraph.walk(RunAll(date=dates[0], pipelines="all"))
        if args.task not in graph.families():
            return unknown_task_exit(args.task, graph.families())
        affected = graph.downstream(args.task)
        pipelines = sorted({t.pipeline for t in affected if isinstance(t, StageTask)})
        pipelines = pipelines or registry.names()
        if args.dry_run:
            view = WarehouseView()
            plans = [plan_date(day, args.task, view) for day in dates]
            print_plans(plans, args.task)
            locked_notes(plans, pipelines)
            print("dry run: nothing was removed")
            return EXIT_OK
        record = RunRecord.start(
            "etl-invalidate", sys.argv[1:] if argv is None else argv, pipelines, dates
        )
        with exit_if_locked(pipelines, dates):
            code = invalidate(dates, args.task)
        end_of_run(record, code, "SUCCESS" if code == EXIT_OK else "FAILED", [])
        print(record.line())
        return code
    except ConfigError as error:
        return config_error_exit(error)


def invalidate(dates: list[dt.date], family: str) -> int:
    """Plan and remove, date by date, under the locks the caller holds."""
    from etl_tasks.ops.invalidation import apply, plan_date
    from etl_tasks.ops.warehouse_view import WarehouseView

    view = WarehouseView()
    plans = [plan_date(day, family, view) for day in dates]
    print_plans(plans, family)
    markers = files = 0
    for plan in plans:
        try:
            removed = apply(plan)
        except EtlError as error:
            logger.error("invalidating %s on %s failed: %s", family, plan.date, error)
            print(f"failed on {plan.date}: {error}", file=sys.stderr)
            return EXIT_REMOVAL_FAILED
        markers, files = markers + removed[0], files + removed[1]
        logger.info("invalidated %s on %s: %d markers, %d file groups", family, plan.date,
                    *removed)
    reruns = dict.fromkeys(task.task_family for plan in plans for task in plan.tasks)
    print(f"removed {markers} load marker(s) and {files} group(s) of files; "
          f"the next run redoes: {', '.join(reruns)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
