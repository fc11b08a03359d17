"""Forced rerun: remove the targets of a task and of everything downstream of it, for one date.

Luigi reruns a task only when its target is gone (it has no force flag, upstream issue #595), and
it never looks below a complete task, so every dependent's target must go too. What "target"
means per kind of task:

* stage partition (extract, transform, check): ``data.parquet``, ``_meta.json``, ``_failed.json``
  via :meth:`PartitionTarget.remove`;
* load: the ``etl_load_audit`` marker of (table, date) — not the rows: the rerun's partition load
  replaces them in one transaction — and the load's sidecar;
* schema: its sidecar only; the tables stay (the schema task is complete while they exist);
* ``ReportTask``: nothing is removed; the date's report is rewritten from the new state once the
  removals are done (the removed tasks show NOT RUN), so it never claims what is gone;
* ``RunAll`` (a wrapper) stores nothing.

Markers are removed before files, and dependents before what they depend on, so an interrupted
invalidation never leaves a complete-looking task above a removed one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import luigi

from etl_tasks.config import redact_url
from etl_tasks.core.stage import StageTask
from etl_tasks.core.targets import DATA_FILE, FAILED_FILE, META_FILE, PartitionTarget
from etl_tasks.ops.graph import TaskGraph
from etl_tasks.ops.warehouse_view import WarehouseView
from etl_tasks.report import refresh_report
from etl_tasks.run_all import ReportTask, RunAll
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.tasks import LoadTask, SchemaTask

PARTITION_FILES = (DATA_FILE, META_FILE, FAILED_FILE)


@dataclass
class Removal:
    """One thing to remove for one task (or a note that there is nothing to remove)."""

    task: luigi.Task
    kind: str  # "marker" | "files" | "note"
    what: str
    action: Callable[[], None] | None = None


def _files_removal(task: luigi.Task, directory: Path, names: tuple[str, ...],
                   remove: Callable[[], None]) -> list[Removal]:
    present = [name for name in names if (directory / name).exists()]
    if not present:
        return []
    return [Removal(task, "files", f"{directory}/{{{','.join(present)}}}", remove)]


def _partition_removal(task: StageTask) -> list[Removal]:
    target: PartitionTarget = task.partition()
    return _files_removal(task, target.directory, PARTITION_FILES, target.remove)


def _marker_removal(task: LoadTask, view: WarehouseView) -> list[Removal]:
    target = task.output()
    where = f"etl_load_audit {target.table} {target.partition} in {redact_url(target.url)}"
    state = view.state(target.url)
    if state.reachable and view.marker_sha256(target.url, target.table, target.partition) is None:
        return []

    def remove() -> None:
        with connect(target.url) as warehouse:
            warehouse.remove_marker(target.table, target.partition)

    note = "" if state.reachable else f" (could not check: {state.error})"
    return [Removal(task, "marker", where + note, remove)]


def removals_for(task: luigi.Task, view: WarehouseView) -> list[Removal]:
    """What must go so Luigi reruns ``task`` (empty when nothing of it is stored)."""
    if isinstance(task, LoadTask):
        return _marker_removal(task, view) + _partition_removal(task)
    if isinstance(task, SchemaTask):
        kept = "tables are kept (the schema task is complete while they exist)"
        return [*_partition_removal(task), Removal(task, "note", kept)]
    if isinstance(task, StageTask):
        return _partition_removal(task)
    if isinstance(task, ReportTask):
        return [Removal(task, "note", "report rewritten from the new state of the date")]
    if isinstance(task, luigi.WrapperTask):
        return [Removal(task, "note", "wrapper: stores nothing")]
    removals: list[Removal] = []
    for target in luigi.task.flatten(task.output()):
        if isinstance(target, luigi.LocalTarget) and target.exists():
            removals.append(Removal(task, "files", target.path, target.remove))
    return removals


@dataclass
class DatePlan:
    """The invalidation of one date: the tasks that will rerun and what goes for each."""

    date: dt.date
    tasks: list[luigi.Task]
    removals: list[Removal]

    def ordered(self) -> list[Removal]:
        """Markers first, then files, dependents before what they depend on."""
        position = {task.task_id: index for index, task in enumerate(self.tasks)}
        actions = [r for r in self.removals if r.action is not None]
        return sorted(actions, key=lambda r: (r.kind != "marker", -position[r.task.task_id]))


def plan_date(date: dt.date, family: str, view: WarehouseView) -> DatePlan:
    """The tasks of ``family`` on ``date`` and everything downstream, with their removals."""
    graph = TaskGraph.walk(RunAll(date=date, pipelines="all"))
    tasks = graph.downstream(family)
    removals = [removal for task in tasks for removal in removals_for(task, view)]
    return DatePlan(date, tasks, removals)


def apply(plan: DatePlan) -> tuple[int, int]:
    """Remove everything of the plan, then rewrite the date's state; returns (markers removed,
    file groups removed)."""
    markers = files = 0
    try:
        for removal in plan.ordered():
            assert removal.action is not None
            removal.action()
            markers += removal.kind == "marker"
            files += removal.kind == "files"
    finally:
        if markers or files:
            refresh_report(plan.date)
    return markers, files


def render_date(plan: DatePlan) -> list[str]:
    """The plan of one date, one line per removal, every task listed."""
    width = max((len(task.task_family) for task in plan.tasks), default=0)
    lines = [f"{plan.date}: {len(plan.tasks)} task(s) will run again"]
    for task in plan.tasks:
        mine = [removal for removal in plan.removals if removal.task is task]
        if not mine:
            lines.append(f"  {task.task_family.ljust(width)}  nothing stored yet")
        for index, removal in enumerate(mine):
            name = task.task_family if index == 0 else ""
            lines.append(f"  {name.ljust(width)}  {removal.kind:<6}  {removal.what}")
    return lines
