"""Run a backfill: ``RunAll`` for each date in order, one ``luigi.build`` per date.

One build per date (rather than one build of every date) because it gives an honest progress
line after each date, lets each date hold only its own run locks (the daily cron run of another
date is never blocked), and keeps a failing date from stopping the others. Luigi decides what
runs: a date whose ``RunAll`` is complete is not built at all, and inside a date only the stages
whose targets are missing or failed run, so an interrupted backfill resumes by running the same
command again.

Outcomes of a date: ``ran`` / ``complete`` (nothing to do) — both done; ``failed``; ``locked``
(another run holds the date; left alone). A date counts as *skipped* as well when one of its
stages was skipped by design (e.g. a Twitch live snapshot of a past date).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import luigi
from luigi.configuration import get_config
from luigi.execution_summary import LuigiStatusCode

from etl_tasks.ops.lock import AlreadyRunningError, run_locks
from etl_tasks.report import DONE, SKIPPED
from etl_tasks.run_all import RunAll, build_report

logger = logging.getLogger(__name__)

SUCCESS_STATUSES = (LuigiStatusCode.SUCCESS, LuigiStatusCode.SUCCESS_WITH_RETRY)
RAN, COMPLETE, FAILED, LOCKED = "ran", "complete", "failed", "locked"


@dataclass
class DateOutcome:
    """What happened to one date of the backfill."""

    date: dt.date
    pipelines: list[str]
    result: str
    skipped: list[str] = field(default_factory=list)  # "twitch streams: <reason>"
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.result in (RAN, COMPLETE)


@dataclass
class Progress:
    """Counters behind the progress line."""

    label: str
    total: int
    outcomes: list[DateOutcome] = field(default_factory=list)

    def count(self, *results: str) -> int:
        return sum(outcome.result in results for outcome in self.outcomes)

    @property
    def skipped(self) -> int:
        return sum(bool(outcome.skipped) for outcome in self.outcomes)

    def line(self) -> str:
        """``backfill twitch: 12/30 dates done (2 failed, 1 skipped)``."""
        text = (
            f"backfill {self.label}: {len(self.outcomes)}/{self.total} dates done "
            f"({self.count(FAILED)} failed, {self.skipped} skipped"
        )
        locked = self.count(LOCKED)
        return text + (f", {locked} locked)" if locked else ")")


@contextlib.contextmanager
def selected_pipelines(names: Sequence[str]) -> Iterator[None]:
    """Switch ``[pipelines]`` to exactly ``names`` for the block (RunAll and its report read it),
    then put back what was there."""
    config = get_config()
    saved = {name: config.get("pipelines", name, None) for name in ("twitch", "btg")}
    for name in saved:
        config.set("pipelines", name, "true" if name in names else "false")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                config.remove_option("pipelines", name)
            else:
                config.set("pipelines", name, value)


def _is_complete(task: luigi.Task) -> bool:
    """``task.complete()``; an error (a warehouse down) means "not known complete": the build
    then runs into the same error and records it in the date's report."""
    try:
        return bool(task.complete())
    except Exception as error:
        logger.warning("could not check whether %s is complete: %s", task.task_id, error)
        return False


def _scheduler_options(scheduler_url: str | None) -> dict[str, object]:
    if scheduler_url:
        return {"scheduler_url": scheduler_url, "local_scheduler": False}
    return {"local_scheduler": True}


def run_date(
    date: dt.date, pipelines: Sequence[str], workers: int = 1, scheduler_url: str | None = None
) -> DateOutcome:
    """Hold the date's locks, build ``RunAll(date)`` unless complete, read the outcome from the
    date's report."""
    outcome = DateOutcome(date, list(pipelines), RAN)
    try:
        with run_locks(pipelines, [date]), selected_pipelines(pipelines):
            root = RunAll(date=date)
            status = LuigiStatusCode.SUCCESS
            if _is_complete(root):
                outcome.result = COMPLETE
            else:
                result = luigi.build(
                    [root], detailed_summary=True, workers=workers,
                    **_scheduler_options(scheduler_url),
                )
                status = result.status
            report = build_report(date, pipelines)
    except AlreadyRunningError as error:
        message = f"{error.in_progress()}; this date was left alone, run the backfill again later"
        return DateOutcome(date, list(pipelines), LOCKED, errors=[message])
    seen: set[tuple[str, str]] = set()
    for task in report.tasks:
        if task.status == SKIPPED and (task.pipeline, task.entity) not in seen:
            seen.add((task.pipeline, task.entity))
            outcome.skipped.append(f"{task.pipeline} {task.entity}: {task.skip_reason}")
    if status not in SUCCESS_STATUSES or report.status not in (DONE, SKIPPED):
        outcome.result = FAILED
        outcome.errors = report.errors or [
            f"Luigi: {status.value[1]} (report status {report.status})"
        ]
    return outcome


def run_backfill(
    schedule: Sequence[tuple[dt.date, list[str]]],
    label: str,
    workers: int = 1,
    scheduler_url: str | None = None,
    on_progress: Callable[[Progress, DateOutcome], None] | None = None,
) -> Progress:
    """Run every date of ``schedule`` in order; ``on_progress`` is called after each date."""
    progress = Progress(label, len(schedule))
    for date, pipelines in schedule:
        outcome = run_date(date, pipelines, workers, scheduler_url)
        progress.outcomes.append(outcome)
        logger.info("backfill %s %s: %s", label, date, outcome.result)
        if on_progress is not None:
            on_progress(progress, outcome)
    return progress
