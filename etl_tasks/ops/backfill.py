"""Run a backfill: ``RunAll`` for each date in order, one run of the driver per date.

One build per date (rather than one build of every date) because it gives an honest progress
line after each date, lets each date hold only its own run locks (the daily cron run of another
date is never blocked), and keeps a failing date from stopping the others. Luigi decides what
runs: a date whose ``RunAll`` is complete is not built at all, and inside a date only the stages
whose targets are missing or failed run, so an interrupted backfill resumes by running the same
command again.

Each date goes through the run driver (``etl_tasks.ops.driver``), the same code and success rule
as ``etl-run``. Outcomes of a date: ``ran`` / ``complete`` (nothing to do) — both done;
``failed``; ``locked`` (another run holds the date; left alone). A date counts as *skipped* as
well when one of its stages was skipped by design (e.g. a live snapshot of a past date).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from etl_tasks.ops.driver import RunRequest
from etl_tasks.ops.driver import run_date as drive_date
from etl_tasks.ops.runs import RunRecord
from etl_tasks.report import SKIPPED

logger = logging.getLogger(__name__)

RAN, COMPLETE, FAILED, LOCKED = "ran", "complete", "failed", "locked"


@dataclass
class DateOutcome:
    """What happened to one date of the backfill."""

    date: dt.date
    pipelines: list[str]
    result: str
    skipped: list[str] = field(default_factory=list)  # "<pipeline> <entity>: <reason>"
    errors: list[str] = field(default_factory=list)
    tasks_run: list[str] = field(default_factory=list)

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
        """``backfill <pipelines>: 12/30 dates done (2 failed, 1 skipped)``."""
        text = (
            f"backfill {self.label}: {len(self.outcomes)}/{self.total} dates done "
            f"({self.count(FAILED)} failed, {self.skipped} skipped"
        )
        locked = self.count(LOCKED)
        return text + (f", {locked} locked)" if locked else ")")


def run_date(
    date: dt.date,
    pipelines: Sequence[str],
    record: RunRecord,
    workers: int = 1,
    scheduler_url: str | None = None,
) -> DateOutcome:
    """Run one date through the run driver (its locks, its success rule) and say how it went."""
    result = drive_date(RunRequest(date, list(pipelines), workers, scheduler_url), record)
    if result.locked:
        message = f"{result.locked}; this date was left alone, run the backfill again later"
        return DateOutcome(date, list(pipelines), LOCKED, errors=[message])
    outcome = DateOutcome(date, list(pipelines), COMPLETE if result.noop else RAN)
    outcome.tasks_run = result.tasks_run
    seen: set[tuple[str, str]] = set()
    for task in result.scope.tasks:
        if task.status == SKIPPED and (task.pipeline, task.entity) not in seen:
            seen.add((task.pipeline, task.entity))
            outcome.skipped.append(f"{task.pipeline} {task.entity}: {task.skip_reason}")
    if not result.succeeded:
        outcome.result = FAILED
        outcome.errors = ([result.crash] if result.crash else []) + result.scope.errors or [
            f"Luigi: {result.luigi_summary or 'exit ' + str(result.exit_code)} "
            f"(status {result.scope.status})"
        ]
    return outcome


def run_backfill(
    schedule: Sequence[tuple[dt.date, list[str]]],
    label: str,
    record: RunRecord,
    workers: int = 1,
    scheduler_url: str | None = None,
    on_progress: Callable[[Progress, DateOutcome], None] | None = None,
) -> Progress:
    """Run every date of ``schedule`` in order; ``on_progress`` is called after each date."""
    progress = Progress(label, len(schedule))
    for date, pipelines in schedule:
        outcome = run_date(date, pipelines, record, workers, scheduler_url)
        progress.outcomes.append(outcome)
        logger.info("backfill %s %s: %s", label, date, outcome.result)
        if on_progress is not None:
            on_progress(progress, outcome)
    return progress
