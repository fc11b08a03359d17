"""The run record of a plain ``luigi --module etl_tasks …`` command.

    luigi --module etl_tasks RunAll --date 2025-04-10 --local-scheduler
    # last line: run 2025…-1a2b3c: luigi --module etl_tasks RunAll … · twitch, btg · 2025-04-10 ·
    #            41.20 s · 20 tasks run · exit 0 (SUCCESS)

``etl-run``, ``etl-backfill`` and a pipeline's own command write their record through the run
driver. A plain ``luigi`` command runs no ``main()`` of ours, so :func:`install` (called when the
package is imported by that command) starts the record, keeps the Luigi worker the command
creates, and when the process exits takes from that worker what the driver takes from
``luigi.build``: the tasks completed, the pipelines and dates touched, and the exit code Luigi's
``[retcode]`` rule gives. The record is printed and appended to the runs log like any other.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import sys
from typing import Any

import luigi.execution_summary
from luigi import interface

from etl_tasks.error_boundary import is_luigi_command
from etl_tasks.ops.runs import RunRecord, end_of_run

_WORKERS: list[Any] = []
_RECORD: list[RunRecord] = []


def install() -> None:
    """Start the record of this ``luigi`` command and write it at exit (idempotent; no-op in any
    other program, whose own entry point writes its record)."""
    if _RECORD or not is_luigi_command():
        return
    _RECORD.append(RunRecord.start("luigi", sys.argv[1:], [], []))
    factory = interface._WorkerSchedulerFactory
    create_worker = factory.create_worker

    @functools.wraps(create_worker)
    def keeping_worker(self: Any, *args: Any, **kwargs: Any) -> Any:
        worker = create_worker(self, *args, **kwargs)
        _WORKERS.append(worker)
        return worker

    factory.create_worker = keeping_worker  # type: ignore[method-assign]
    atexit.register(_write_record)


def _touched(worker: Any) -> tuple[list[str], list[dt.date]]:
    """The pipelines (registry order) and dates of every task the worker saw."""
    from etl_tasks import pipelines as registry

    names: set[str] = set()
    dates: set[dt.date] = set()
    for tasks in luigi.execution_summary._summary_dict(worker).values():
        for task in tasks:
            pipeline = registry.task_pipeline(task.task_family)
            if pipeline is not None:
                names.add(pipeline.name)
            chosen = getattr(task, "pipelines", None)  # RunAll / ReportTask name theirs
            if isinstance(chosen, str):
                names.update(registry.selected(chosen))
            date = getattr(task, "date", None)
            if isinstance(date, dt.date):
                dates.add(date)
    return registry.ordered(sorted(names)), sorted(dates)


def _write_record() -> None:
    """At exit: finish, print and append the record (never raises: the exit code is Luigi's)."""
    from etl_tasks.ops.luigi_result import worker_exit_code, worker_families

    record = _RECORD[0]
    with contextlib.suppress(Exception):
        # No worker: Luigi refused the command line, or a set-up check stopped it with its one
        # line (a dead luigid, a missing ETL_ENV_FILE) before anything ran; nothing to record.
        if not _WORKERS:
            return
        worker = _WORKERS[-1]
        pipelines, dates = _touched(worker)
        record.pipelines, record.dates = pipelines, [day.isoformat() for day in dates]
        code = worker_exit_code(worker)
        status = "SUCCESS" if code == 0 else "FAILED"
        end_of_run(record, code, status, worker_families(worker, "completed"))
        print(record.line(), flush=True)
