"""Where each stage of a date stands — done, skipped, failed, missing — read from disk only.

Stage partitions are judged by Luigi's own ``complete()`` (file checks; the sidecar and
``_failed.json`` say done/skipped/failed); loads by the ``etl_load_audit`` marker holding the
transform file's sha256 (read once per warehouse through :class:`WarehouseView`, never through
``LoadTask.complete()``, which would record a failure when the warehouse is down); the report by
``report.json`` and its sidecar fingerprint. No API is called and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from etl_tasks import pipelines as registry
from etl_tasks.config import warehouse_url
from etl_tasks.core.stage import StageTask
from etl_tasks.ops.warehouse_view import WarehouseView
from etl_tasks.report import DONE as RECORD_DONE
from etl_tasks.report import FAILED as RECORD_FAILED
from etl_tasks.report import SKIPPED as RECORD_SKIPPED
from etl_tasks.report import date_state, date_tasks, read_report, sidecar_fingerprint, task_record
from etl_tasks.warehouse.tasks import SchemaTask, WarehouseMarkerTarget

# Cell symbols of the plan grid.
DONE, SKIPPED, WILL_SKIP, MISSING, FAILED, UNKNOWN = ".", "s", "~", "-", "F", "?"
COMPLETE = (DONE, SKIPPED)



def is_live_snapshot(task: StageTask) -> bool:
    """A stage that can only be captured on its own day (declared by its pipeline): a date before
    today is recorded as skipped by the run. Only used to predict the plan of dates not run yet."""
    return task.entity in registry.get(task.pipeline).live_snapshots


@dataclass
class TaskState:
    """One stage of one date: its plan symbol and why (error or skip reason)."""

    task: StageTask
    symbol: str
    note: str | None = None


def utc_today() -> dt.date:
    """Today's date in UTC (the day an API's live snapshot is labelled with)."""
    return dt.datetime.now(dt.timezone.utc).date()


def _from_record(task: StageTask, complete: bool) -> TaskState:
    record = task_record(task)
    if complete:
        if record.status == RECORD_SKIPPED:
            return TaskState(task, SKIPPED, record.skip_reason)
        return TaskState(task, DONE)
    if record.status == RECORD_FAILED:
        return TaskState(task, FAILED, record.error)
    return TaskState(task, MISSING)


def _load_state(task: StageTask, target: WarehouseMarkerTarget, view: WarehouseView) -> TaskState:
    state = view.state(target.url)
    if not state.reachable:
        return TaskState(task, UNKNOWN, state.error)
    loaded = view.marker_sha256(target.url, target.table, target.partition)
    source_sha = target.source.meta().sha256 if target.source.exists() else None
    return _from_record(task, loaded is not None and loaded == source_sha)


def _schema_state(task: SchemaTask, view: WarehouseView) -> TaskState:
    url = warehouse_url(task.pipeline)
    missing = view.missing_tables(url, task.tables)
    if missing is None:
        return TaskState(task, UNKNOWN, view.state(url).error)
    if not missing:
        return TaskState(task, DONE)
    failed = task_record(task).status == RECORD_FAILED
    return TaskState(task, FAILED if failed else MISSING, f"missing tables: {', '.join(missing)}")


def task_state(task: StageTask, view: WarehouseView, today: dt.date | None = None) -> TaskState:
    """The plan state of one stage task."""
    mismatch = task.source_mismatch()
    if mismatch is not None:
        return TaskState(task, FAILED, str(mismatch))
    if isinstance(task, SchemaTask):
        return _schema_state(task, view)
    target = task.output()
    if isinstance(target, WarehouseMarkerTarget):
        state = _load_state(task, target, view)
    else:
        state = _from_record(task, task.complete())
    if (
        state.symbol == MISSING
        and is_live_snapshot(task)
        and task.date < (today or utc_today())
    ):
        return TaskState(task, WILL_SKIP, "live snapshot of a past date")
    return state


def report_state(date: dt.date, pipelines: Sequence[str]) -> str:
    """``report.json`` of the date: done / skipped / failed for ``pipelines``, or missing when
    absent or stale (a stage finished, failed or was invalidated since it was written)."""
    written = read_report(date)
    if not written:
        return MISSING
    state = date_state(date)
    if written.get("fingerprint") != sidecar_fingerprint(state.tasks):
        return MISSING
    status = state.only(pipelines).status
    if status == RECORD_FAILED:
        return FAILED
    if status not in (RECORD_DONE, RECORD_SKIPPED):
        return MISSING
    return SKIPPED if status == RECORD_SKIPPED else DONE


def date_states(
    date: dt.date, pipelines: Sequence[str], view: WarehouseView, today: dt.date | None = None
) -> list[TaskState]:
    """Every stage task of ``date`` in ``pipelines``, with its state."""
    return [task_state(task, view, today) for task in date_tasks(date, list(pipelines))]
