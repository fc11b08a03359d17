"""RunAll and ReportTask: one date, the chosen pipelines, then the state of the date.

    luigi --module etl_tasks RunAll --date 2025-04-10 --local-scheduler          # [pipelines]
    luigi --module etl_tasks RunAll --date 2025-04-10 --pipelines NAME,NAME --local-scheduler

``RunAll(date, pipelines)`` requires ``ReportTask(date, pipelines)``, which requires the final
loads of those pipelines (each load pulls in its transform and extract). The pipelines are a task
parameter (comma-separated names, ``all``, or empty for the ones switched on in ``[pipelines]`` of
luigi.cfg), never a change of global configuration, so two runs with different pipelines are two
different tasks for luigid too.

The report is the state of the date over *every* registered pipeline (``etl_tasks.report``). It is
recomputed whenever a stage of the date succeeds or fails, in whatever process ran it (plain
``luigi`` of one stage included), and once more by ``ReportTask``; the exit code comes from
``[retcode]``.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import logging
import multiprocessing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import luigi

from etl_tasks import pipelines as registry
from etl_tasks.config import logs_root
from etl_tasks.core import stage as stage_module
from etl_tasks.core.logs import has_file_logging, setup_logging
from etl_tasks.core.stage import StageTask, output_root
from etl_tasks.report import (
    RunReport,
    date_state,
    date_tasks,
    read_report,
    refresh_report,
    report_dir,
    sidecar_fingerprint,
)
from etl_tasks.valid_dates import DateParameter

logger = logging.getLogger(__name__)


class PipelinesParameter(luigi.Parameter):
    """Pipelines of a run: ``a,b``, ``all``, one name, or empty for ``[pipelines]``.

    Normalised to the registry's order, so ``b,a`` and ``a,b`` name the same task."""

    def normalize(self, x: Any) -> str:
        if x in (None, ""):
            return ""
        text = ",".join(x) if isinstance(x, (list, tuple)) else str(x)
        return ",".join(registry.parse_selection(text))


def selected(value: str) -> list[str]:
    """The pipelines a :class:`PipelinesParameter` value stands for."""
    return registry.selected(value)


def stage_tasks(date: dt.date, pipelines: Sequence[str]) -> list[StageTask]:
    """Every extract/transform/check/schema/load task of ``date`` in ``pipelines``."""
    return date_tasks(date, pipelines)


def build_report(date: dt.date, pipelines: Sequence[str] | None = None) -> RunReport:
    """The state of ``date`` as the sidecars say right now, restricted to ``pipelines``."""
    state = date_state(date)
    return state if pipelines is None else state.only(pipelines)


def run_options_parameter() -> luigi.DictParameter:
    """The pipelines' own options of a run, ``{pipeline: {key: value}}`` (e.g. a lookback)."""
    return luigi.DictParameter(
        default={}, description="per-pipeline run options, e.g. {\"NAME\": {\"KEY\": 3}}"
    )


class ReportTask(luigi.Task):
    """Write the state of the date (report.txt, report.json, the status page) once the final
    loads of ``pipelines`` are done."""

    date = DateParameter(description="report date (YYYY-MM-DD)")
    pipelines = PipelinesParameter(
        default="", description="pipelines whose loads must be done first (default [pipelines])"
    )
    options = run_options_parameter()

    def requires(self) -> list[luigi.Task]:
        """The final loads of the chosen pipelines."""
        return [
            task
            for name in selected(self.pipelines)
            for task in registry.get(name).final_tasks(self.date, self.options.get(name))
        ]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(report_dir(self.date) / "report.json"))

    def complete(self) -> bool:
        """Done when the written report is the current state of the date and every load of the
        chosen pipelines is still complete (Luigi does not look below a complete task, so a
        removed load marker or partition must make the report incomplete for a rerun to reach
        it)."""
        written = read_report(self.date)
        if not written:
            return False
        if not all(task.complete() for task in luigi.task.flatten(self.requires())):
            return False
        return written.get("fingerprint") == sidecar_fingerprint(date_state(self.date).tasks)

    def run(self) -> None:
        state = refresh_report(self.date)
        logger.info(
            "state of %s: %s (%s)", self.date, state.status, report_dir(self.date) / "report.txt"
        )


class RunAll(luigi.WrapperTask):
    """Everything for one date: the chosen pipelines, then the state of the date."""

    date = DateParameter(description="date to process (YYYY-MM-DD)")
    pipelines = PipelinesParameter(
        default="", description="comma-separated pipelines, or all (default: [pipelines])"
    )
    options = run_options_parameter()

    def requires(self) -> ReportTask:
        return ReportTask(
            date=self.date, pipelines=",".join(selected(self.pipelines)), options=self.options
        )


# Output roots whose status page this process rebuilds when it exits.
_PAGES_PENDING: set[Path] = set()


def _rebuild_page_at_exit(root: Path) -> None:
    from etl_tasks.status_page import build_status_page

    with contextlib.suppress(Exception):  # the page is a convenience; log streams may be closed
        build_status_page(root, quiet=True)


def _refresh_after_success(task: luigi.Task) -> None:
    """A stage finished: the state of its date changed, whatever command runs it. Cheap (no fsync;
    the status page once at the end of the process), since it runs after every stage."""
    date = getattr(task, "date", None)
    if not isinstance(date, dt.date):
        return
    # A --workers child leaves through os._exit, which skips atexit: it rebuilds the page now.
    in_child = multiprocessing.parent_process() is not None
    refresh_report(date, status_page=in_child, durable=False)
    root = output_root().absolute()
    if not in_child and root not in _PAGES_PENDING:
        _PAGES_PENDING.add(root)
        atexit.register(_rebuild_page_at_exit, root)


def _refresh_after_failure(task: luigi.Task, exception: BaseException) -> None:
    """A stage failed: the state of its date (with the error) is written at once, page included."""
    date = getattr(task, "date", None)
    if isinstance(date, dt.date):
        refresh_report(date)
        logger.error(
            "%s failed; state written to %s", task.task_family, report_dir(date) / "report.txt"
        )


stage_module.FAILURE_LISTENERS.append(_refresh_after_failure)
stage_module.SUCCESS_LISTENERS.append(_refresh_after_success)


@luigi.Task.event_handler(luigi.Event.START)
def _log_under_plain_luigi(task: luigi.Task) -> None:
    """``luigi --module etl_tasks ...`` configures only its own ``luigi-interface`` console
    handler: add the dated file, and a console handler for the project's own loggers only (on the
    root it would print Luigi's lines a second time). Entry points such as etl-run or
    a pipeline's own command have already set up both."""
    if not has_file_logging():
        setup_logging("etl", logs_root(), console=False)
        setup_logging("etl", logs_root(), console=True, console_logger="etl_tasks")
