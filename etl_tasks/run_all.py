"""RunAll and ReportTask: one date, every enabled pipeline, then the report.

    luigi --module etl_tasks RunAll --date 2025-04-10 --local-scheduler

``RunAll(date)`` requires ``ReportTask(date)``, which requires the final load of every entity of
every enabled pipeline (``[pipelines]`` in luigi.cfg); each load pulls in its transform and extract.
When any stage fails, Luigi never runs ``ReportTask``, so a failure listener rewrites the report at
that moment (status FAILED, the error named with its task); the exit code comes from ``[retcode]``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Sequence
from types import ModuleType

import luigi

from etl_tasks.config import logs_root
from etl_tasks.config import pipelines as pipelines_config
from etl_tasks.core import stage as stage_module
from etl_tasks.core.logs import has_file_logging, setup_logging
from etl_tasks.core.stage import StageTask
from etl_tasks.report import (
    RunReport,
    collect_report,
    read_report,
    sidecar_fingerprint,
    write_report,
)
from etl_tasks.valid_dates import DateParameter

logger = logging.getLogger(__name__)

# Each pipeline module provides stage_tasks(date) -> list[StageTask] (every extract, transform
# and load of the date) and final_tasks(date) -> list[luigi.Task] (what RunAll must finish).
PIPELINE_MODULES = {"twitch": "etl_tasks.twitch.tasks", "btg": "etl_tasks.btg.tasks"}


def enabled_pipelines() -> list[str]:
    """Pipelines switched on in ``[pipelines]``, in a fixed order."""
    config = pipelines_config()
    return [name for name in PIPELINE_MODULES if getattr(config, name)]


def pipeline_module(name: str) -> ModuleType:
    """The tasks module of a pipeline."""
    return importlib.import_module(PIPELINE_MODULES[name])


def stage_tasks(date: dt.date, pipelines: Sequence[str]) -> list[StageTask]:
    """Every extract/transform/load task of ``date`` in ``pipelines``."""
    return [task for name in pipelines for task in pipeline_module(name).stage_tasks(date)]


def build_report(date: dt.date, pipelines: Sequence[str] | None = None) -> RunReport:
    """The report of ``date`` as the sidecars say right now."""
    chosen = list(pipelines) if pipelines is not None else enabled_pipelines()
    return collect_report(date, chosen, stage_tasks(date, chosen))


class ReportTask(luigi.Task):
    """Add up the sidecars of every stage of the date into report.txt and report.json."""

    date = DateParameter(description="report date (YYYY-MM-DD)")

    def requires(self) -> list[luigi.Task]:
        """The final loads of every enabled pipeline."""
        return [
            task
            for name in enabled_pipelines()
            for task in pipeline_module(name).final_tasks(self.date)
        ]

    def output(self) -> luigi.LocalTarget:
        from etl_tasks.report import report_dir

        return luigi.LocalTarget(str(report_dir(self.date) / "report.json"))

    def complete(self) -> bool:
        """Done only when the written report is successful, no stage changed since, and every
        load is still complete (Luigi does not look below a complete task, so a removed load
        marker or partition must make the report incomplete for the rerun to reach it)."""
        written = read_report(self.date)
        if not written or written.get("status") in ("FAILED", "INCOMPLETE"):
            return False
        if not all(task.complete() for task in luigi.task.flatten(self.requires())):
            return False
        current = build_report(self.date)
        return written.get("fingerprint") == sidecar_fingerprint(current.tasks)

    def run(self) -> None:
        report = build_report(self.date)
        directory = write_report(report)
        logger.info("report for %s: %s (%s)", self.date, report.status, directory / "report.txt")


class RunAll(luigi.WrapperTask):
    """Everything for one date: every enabled pipeline, then the report."""

    date = DateParameter(description="date to process (YYYY-MM-DD)")

    def requires(self) -> ReportTask:
        return ReportTask(date=self.date)


def _write_report_after_failure(task: luigi.Task, exception: BaseException) -> None:
    """A failed stage still yields the report (Luigi will not run ReportTask)."""
    date = getattr(task, "date", None)
    if isinstance(date, dt.date):
        directory = write_report(build_report(date))
        logger.error("%s failed; report written to %s", task.task_family, directory / "report.txt")


stage_module.FAILURE_LISTENERS.append(_write_report_after_failure)


@luigi.Task.event_handler(luigi.Event.START)
def _log_to_file_under_plain_luigi(task: luigi.Task) -> None:
    """``luigi --module etl_tasks ...`` configures only console logging; add the dated file
    (entry points such as etl-run or orquestrador-btg have already set up their own)."""
    if not has_file_logging():
        setup_logging("etl", logs_root(), console=False)
