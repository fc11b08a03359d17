"""The ``etl-backfill --plan`` grid: one row per date, one column per stage task, a totals row.

                    pipeline                          |
    date            extract  transform  schema  load  | report  status
                    sugvc    ugsvc      t       ugsvc |
    2025-04-09 Wed  s....    ..s..      .       ..s.. | .       complete
    2025-04-10 Thu  -----    -----      .       ----- | -       to run
    totals          5/10     5/10       2/2     5/10  | 1/2     1/2 complete

Columns are grouped per pipeline and stage; inside a group each character is one entity (the
key is printed under the grid), so 120 dates stay one screen wide. Nothing is run and no API is
called: states come from :mod:`etl_tasks.ops.status`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from etl_tasks.ops.lock import LockHolder, current_holder
from etl_tasks.ops.status import (
    COMPLETE,
    DONE,
    FAILED,
    MISSING,
    SKIPPED,
    UNKNOWN,
    WILL_SKIP,
    TaskState,
    date_states,
    report_state,
    utc_today,
)
from etl_tasks.ops.warehouse_view import WarehouseView
from etl_tasks.report import date_tasks as stage_tasks

STAGE_ORDER = ("extract", "transform", "check", "schema", "load")
MAX_LISTED = 10
LEGEND = [
    f"legend: {DONE} done   {SKIPPED} skipped by design (reason below)   "
    f"{WILL_SKIP} not run yet, will be recorded as skipped",
    f"        {MISSING} missing (a backfill runs it)   {FAILED} failed (a backfill reruns it)   "
    f"{UNKNOWN} unknown (warehouse unreachable)",
    "        blank: no run that day (its pipeline's calendar, e.g. business days only)",
]


@dataclass
class Group:
    """The columns of one pipeline stage: one entity per character."""

    pipeline: str
    stage: str
    families: list[str]
    entities: list[str]
    codes: str = ""


@dataclass
class PlanRow:
    """One date: the state of each stage task, the report, the overall status."""

    date: dt.date
    pipelines: list[str]
    states: dict[str, TaskState]
    report: str

    @property
    def symbols(self) -> list[str]:
        return [state.symbol for state in self.states.values()] + [self.report]

    @property
    def status(self) -> str:
        symbols = set(self.symbols)
        if FAILED in symbols:
            return "failed"
        if symbols <= set(COMPLETE):
            return "complete"
        if UNKNOWN in symbols and symbols <= {*COMPLETE, UNKNOWN}:
            return "unknown"
        return "to run"


@dataclass
class Plan:
    """The grid data of a backfill: columns, rows, what could not be read, who holds locks."""

    groups: list[Group]
    rows: list[PlanRow]
    warehouse_problems: list[str] = field(default_factory=list)
    locked: list[tuple[dt.date, str, LockHolder]] = field(default_factory=list)
    today: dt.date = field(default_factory=utc_today)


def entity_codes(entities: Sequence[str]) -> str:
    """One distinct character per entity: its first letter, else its next unused letter."""
    used: list[str] = []
    for entity in entities:
        candidates = [c for c in entity.lower() if c.isalnum()] + list("0123456789")
        used.append(next(c for c in candidates if c not in used))
    return "".join(used)


def plan_groups(schedule: Sequence[tuple[dt.date, list[str]]]) -> list[Group]:
    """The column groups: for each pipeline of the schedule, its stages in run order."""
    first_date: dict[str, dt.date] = {}
    for day, names in schedule:
        for name in names:
            first_date.setdefault(name, day)
    groups: list[Group] = []
    for pipeline, day in first_date.items():
        by_stage: dict[str, Group] = {}
        for task in stage_tasks(day, [pipeline]):
            group = by_stage.setdefault(task.stage, Group(pipeline, task.stage, [], []))
            group.families.append(task.task_family)
            group.entities.append(task.entity)
        order = {stage: index for index, stage in enumerate(STAGE_ORDER)}
        for stage in sorted(by_stage, key=lambda s: order.get(s, len(order))):
            by_stage[stage].codes = entity_codes(by_stage[stage].entities)
            groups.append(by_stage[stage])
    return groups


def build_plan(
    schedule: Sequence[tuple[dt.date, list[str]]],
    view: WarehouseView | None = None,
    today: dt.date | None = None,
) -> Plan:
    """Read the state of every stage of every scheduled date (sidecars, markers, locks)."""
    view = view or WarehouseView()
    today = today or utc_today()
    rows: list[PlanRow] = []
    locked: list[tuple[dt.date, str, LockHolder]] = []
    for day, names in schedule:
        states = {state.task.task_family: state for state in date_states(day, names, view, today)}
        rows.append(PlanRow(day, list(names), states, report_state(day, names)))
        for name in names:
            holder = current_holder(name, day)
            if holder is not None:
                locked.append((day, name, holder))
    return Plan(plan_groups(schedule), rows, view.problems(), locked, today)


def _cell(row: PlanRow, group: Group) -> str:
    if group.pipeline not in row.pipelines:
        return ""
    return "".join(
        row.states[family].symbol if family in row.states else " " for family in group.families
    )


def _group_total(plan: Plan, group: Group) -> str:
    cells = [_cell(row, group) for row in plan.rows if group.pipeline in row.pipelines]
    symbols = "".join(cells)
    return f"{sum(symbols.count(s) for s in COMPLETE)}/{len(symbols)}"


def render_grid(plan: Plan) -> list[str]:
    """The grid lines: three header lines, one line per date, a totals line."""
    complete = sum(row.status == "complete" for row in plan.rows)
    report_total = f"{sum(row.report in COMPLETE for row in plan.rows)}/{len(plan.rows)}"
    status_total = f"{complete}/{len(plan.rows)} complete"
    totals = {id(group): _group_total(plan, group) for group in plan.groups}
    widths = {
        id(g): max(len(g.stage), len(g.codes), len(totals[id(g)])) for g in plan.groups
    }
    report_width = max(len("report"), len(report_total))
    date_width = len("2025-04-10 Thu")

    def line(first: str, cells: dict[int, str], report: str, status: str) -> str:
        parts = [first.ljust(date_width)]
        previous = None
        for group in plan.groups:
            gap = "  " if previous in (None, group.pipeline) else " | "
            parts.append(gap + cells.get(id(group), "").ljust(widths[id(group)]))
            previous = group.pipeline
        parts.append(" | " + report.ljust(report_width) + "  " + status)
        return "".join(parts).rstrip()

    pipeline_row = {}
    for group in plan.groups:
        if not any(g.pipeline == group.pipeline for g in plan.groups[: plan.groups.index(group)]):
            pipeline_row[id(group)] = group.pipeline
    lines = [
        line("", pipeline_row, "", ""),
        line("date", {id(g): g.stage for g in plan.groups}, "report", "status"),
        line("", {id(g): g.codes for g in plan.groups}, "", ""),
    ]
    for row in plan.rows:
        cells = {id(g): _cell(row, g) for g in plan.groups}
        day = f"{row.date.isoformat()} {row.date.strftime('%a')}"
        lines.append(line(day, cells, row.report, row.status))
    lines.append(line("totals", totals, report_total, status_total))
    return lines


def _skip_lines(plan: Plan) -> list[str]:
    recorded: dict[tuple[str, str], list[TaskState]] = {}
    predicted: dict[tuple[str, str], list[dt.date]] = {}
    for row in plan.rows:
        for state in row.states.values():
            key = (state.task.pipeline, state.task.entity)
            if state.symbol == SKIPPED:
                recorded.setdefault(key, []).append(state)
            elif state.symbol == WILL_SKIP and state.task.stage == "extract":
                predicted.setdefault(key, []).append(row.date)
    lines = []
    for (pipeline, entity), states in recorded.items():
        dates = sorted({state.task.date for state in states})
        lines.append(
            f"  {SKIPPED} {pipeline} {entity}: skipped on {len(dates)} date(s) "
            f"({dates[0]} .. {dates[-1]}), by design: {states[-1].note}"
        )
    for (pipeline, entity), dates in predicted.items():
        lines.append(
            f"  {WILL_SKIP} {pipeline} {entity}: {len(dates)} date(s) before today "
            f"({plan.today}, UTC) not run yet: a live snapshot cannot be taken for a past date, "
            "so the run will record it as skipped (by design)"
        )
    return lines


def render_footer(plan: Plan) -> list[str]:
    """Legend, column key, counts, skip reasons, failures, unreachable warehouses, locks."""
    lines = ["", *LEGEND, "columns:"]
    for group in plan.groups:
        key = " ".join(f"{c}={e}" for c, e in zip(group.codes, group.entities, strict=True))
        lines.append(f"  {group.pipeline} {group.stage}: {key}")
    counts = {status: sum(r.status == status for r in plan.rows) for status in
              ("complete", "to run", "failed", "unknown")}
    lines.append(
        f"dates: {len(plan.rows)} — " + ", ".join(f"{n} {status}" for status, n in counts.items())
    )
    skips = _skip_lines(plan)
    if skips:
        lines += ["skipped stages:", *skips]
    failures = [
        (row.date, state) for row in plan.rows for state in row.states.values()
        if state.symbol == FAILED
    ]
    if failures:
        lines.append(f"failed ({len(failures)}; a backfill reruns them):")
        lines += [f"  {day} {s.task.task_family}: {s.note}" for day, s in failures[:MAX_LISTED]]
        if len(failures) > MAX_LISTED:
            lines.append(f"  ... and {len(failures) - MAX_LISTED} more")
    for problem in plan.warehouse_problems:
        lines.append(
            f"{UNKNOWN} loads and schema shown as {UNKNOWN}: warehouse unreachable, {problem}. "
            "Start the database or fix <PIPELINE>_WAREHOUSE_URL / WAREHOUSE_URL in .env."
        )
    for day, pipeline, holder in plan.locked:
        lines.append(f"running now: {pipeline} {day} ({holder.describe()})")
    return lines


def render_plan(plan: Plan, title: str) -> str:
    """The whole plan as text."""
    return "\n".join([title, "", *render_grid(plan), *render_footer(plan)]) + "\n"
