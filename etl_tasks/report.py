"""The state of one date: every registered pipeline, read from the stage sidecars, as text and JSON.

``report.txt`` keeps the layout of the original orchestrator guide (the "RELATÓRIO FINAL DE
EXECUÇÃO" block: start, end, total duration, EXTRACT/TRANSFORM/LOAD with status, duration and
records as the guide adds them up, totals, records per second, the error list or "NENHUM ERRO
ENCONTRADO"), plus the wall-clock of the last run that changed the date, a line per pipeline
(a pipeline never run shows NOT RUN, never disappears) and a per-task table with each task's
notes. ``report.json`` carries the same numbers.

A report is the *state* of the date, not the record of one command: whichever command ran
(``etl-run``, a pipeline's own command, ``etl-backfill``, ``etl-invalidate``, plain ``luigi``), the
report is recomputed from disk (``_meta.json`` / ``_failed.json``) when something about the date
changed, so it is right whether the stages ran in this process, in ``--workers N`` subprocesses,
or in earlier runs. What one command did is its run record (``etl_tasks.ops.runs``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl_tasks import pipelines as registry
from etl_tasks.core.redact import redact
from etl_tasks.core.runtime import output_root, utc_now
from etl_tasks.core.sidecar import PartitionRecord, read_json

if TYPE_CHECKING:  # the report reads tasks' sidecars; it needs no Luigi or Arrow of its own
    from etl_tasks.core.stage import StageTask

logger = logging.getLogger(__name__)

STAGES = ("extract", "transform", "load")
STAGE_TITLES = {"extract": "📥 EXTRACT", "transform": "🔄 TRANSFORM", "load": "💾 LOAD"}

# Task and run statuses.
DONE, SKIPPED, FAILED, PENDING = "SUCCESS", "SKIPPED", "FAILED", "NOT RUN"
INCOMPLETE = "INCOMPLETE"
COMPLETE_STATUSES = (DONE, SKIPPED)


@dataclass
class TaskRecord:
    """What the sidecars say about one stage task of the date."""

    pipeline: str
    stage: str
    entity: str
    task_family: str
    status: str
    rows: int = 0
    duration_s: float = 0.0
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    skip_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    failed_run_id: str | None = None


@dataclass
class StageSummary:
    """One EXTRACT / TRANSFORM / LOAD line of the report."""

    status: str
    duration_s: float
    records: int


@dataclass
class RunReport:
    """The state of one date over ``pipelines`` (every registered one for a written report)."""

    date: str
    pipelines: list[str]
    tasks: list[TaskRecord]
    generated_at: str = field(default_factory=lambda: utc_now().isoformat())
    last_run: dict[str, Any] | None = None  # the run record of the last command that changed it

    @property
    def errors(self) -> list[str]:
        return [
            f"[{t.task_family} {self.date}] {t.error}" for t in self.tasks if t.status == FAILED
        ]

    # A run's scope is strict: any of its tasks not run makes it NOT RUN / INCOMPLETE. The state of
    # a date is not: a pipeline with nothing on disk shows NOT RUN but does not make the date
    # incomplete (a deployment may never use it), unless nothing at all ran.
    strict: bool = False

    @property
    def status(self) -> str:
        if self.strict:
            return date_status([t.status for t in self.tasks])
        ran = [s for s in map(self.pipeline_status, self.pipelines) if s != PENDING]
        if not ran:
            return PENDING
        if FAILED in ran:
            return FAILED
        if INCOMPLETE in ran:
            return INCOMPLETE
        return SKIPPED if set(ran) == {SKIPPED} else DONE

    def pipeline_status(self, pipeline: str) -> str:
        """SUCCESS / SKIPPED / FAILED / INCOMPLETE / NOT RUN of one pipeline on this date.

        A schema check counts only when it failed: its tables may exist from another date, which
        says nothing about whether this date ran."""
        return date_status([
            t.status for t in self.tasks
            if t.pipeline == pipeline and (t.stage != "schema" or t.status == FAILED)
        ])

    def only(self, pipelines: Sequence[str], tasks: Sequence[str] | None = None) -> RunReport:
        """The same date restricted to ``pipelines`` (and to the task families ``tasks``, when
        given): what one run covered, for its success rule and its alert."""
        chosen = [p for p in self.pipelines if p in pipelines]
        kept = [
            t for t in self.tasks
            if t.pipeline in chosen and (tasks is None or t.task_family in tasks)
        ]
        return RunReport(self.date, chosen, kept, self.generated_at, self.last_run, strict=True)

    def stage_summary(self, stage: str, pipeline: str | None = None) -> StageSummary:
        tasks = [t for t in self.tasks if t.stage == stage and pipeline in (None, t.pipeline)]
        return StageSummary(
            status=combine_statuses([t.status for t in tasks]),
            duration_s=round(sum(t.duration_s for t in tasks), 2),
            records=sum(t.rows for t in tasks),
        )

    @property
    def total_records(self) -> int:
        return sum(self.stage_summary(stage).records for stage in STAGES)

    @property
    def total_duration_s(self) -> float:
        return round(sum(self.stage_summary(stage).duration_s for stage in STAGES), 2)

    @property
    def records_per_second(self) -> float:
        duration = self.total_duration_s
        return round(self.total_records / duration, 2) if duration > 0 else 0.0

    @property
    def started_at(self) -> str | None:
        times = [t.started_at for t in self.tasks if t.started_at]
        return min(times) if times else None

    @property
    def finished_at(self) -> str | None:
        times = [t.finished_at for t in self.tasks if t.finished_at]
        return max(times) if times else None

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> RunReport:
        """Rebuild a report from its ``report.json`` document."""
        known = {f.name for f in fields(TaskRecord)}
        tasks = [
            TaskRecord(**{key: value for key, value in task.items() if key in known})
            for task in document.get("tasks") or []
        ]
        return cls(
            date=str(document["date"]),
            pipelines=list(document.get("pipelines") or []),
            tasks=tasks,
            generated_at=str(document.get("generated_at") or utc_now().isoformat()),
            last_run=document.get("last_run"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "pipelines": self.pipelines,
            "status": self.status,
            "pipeline_status": {p: self.pipeline_status(p) for p in self.pipelines},
            "generated_at": self.generated_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "total_duration_s": self.total_duration_s,
            "total_records": self.total_records,
            "records_per_second": self.records_per_second,
            "stages": {stage: asdict(self.stage_summary(stage)) for stage in STAGES},
            "by_pipeline": {
                pipeline: {stage: asdict(self.stage_summary(stage, pipeline)) for stage in STAGES}
                for pipeline in self.pipelines
            },
            "errors": self.errors,
            "tasks": [asdict(t) for t in self.tasks],
            "last_run": self.last_run,
            "rerun_command": self.rerun_command(),
            "fingerprint": sidecar_fingerprint(self.tasks),
        }

    def problem_pipelines(self) -> list[str]:
        """Pipelines that failed or stopped half-way on this date (not the ones never run)."""
        return [p for p in self.pipelines if self.pipeline_status(p) in (FAILED, INCOMPLETE)]

    def rerun_command(self) -> str | None:
        """The command that resumes the problem pipelines of the date, when there are any."""
        problems = [p for p in self.problem_pipelines() if p in registry.names()]
        if not problems:
            return None
        return registry.rerun_command(dt.date.fromisoformat(self.date), problems)


def date_status(statuses: Sequence[str]) -> str:
    """The status of a date (or of one pipeline on it) from its tasks' statuses: any failure
    fails it; nothing recorded is NOT RUN; some done and some not is INCOMPLETE."""
    found = set(statuses)
    if FAILED in found:
        return FAILED
    if not found or found == {PENDING}:
        return PENDING
    if PENDING in found:
        return INCOMPLETE
    if found == {SKIPPED}:
        return SKIPPED
    return DONE


def combine_statuses(statuses: Sequence[str]) -> str:
    """The status of a group of tasks: any failure fails it; all skipped is skipped; etc."""
    found = set(statuses)
    if not found:
        return SKIPPED
    if FAILED in found:
        return FAILED
    if found == {PENDING}:
        return PENDING
    if PENDING in found:
        return "INCOMPLETE"
    if found == {SKIPPED}:
        return SKIPPED
    return DONE


def task_record(
    task: StageTask, no_run_reason: Callable[[], str | None] | None = None
) -> TaskRecord:
    """Read one task's sidecar (or failure file) into a :class:`TaskRecord`
    (:func:`partition_task_record`)."""
    return partition_task_record(
        task.pipeline, task.stage, task.entity, task.task_family, task.partition().record(),
        no_run_reason,
    )


def partition_task_record(
    pipeline: str,
    stage: str,
    entity: str,
    task_family: str,
    partition: PartitionRecord,
    no_run_reason: Callable[[], str | None] | None = None,
) -> TaskRecord:
    """One stage task's :class:`TaskRecord` from its partition's sidecar and failure file.

    A failure file counts only while it is newer than the task's last success (a later success
    or a later successful completeness check removes it: ``etl_tasks.core.stage``). A task of a
    pipeline that has no run on the date (``no_run_reason()``, asked only when nothing is on
    disk: a calendar can be costly to load) and nothing on disk is SKIPPED."""
    record = TaskRecord(pipeline, stage, entity, task_family, PENDING)
    meta, failed = partition.sidecar, partition.failure
    if meta is None and stage == "schema":
        # Tables created by an earlier date (or by hand) leave no sidecar for this one.
        record.status = DONE
    if meta is not None:
        record.status = SKIPPED if meta.skipped else DONE
        record.rows = meta.rows
        record.duration_s = meta.duration_s
        record.started_at, record.finished_at = meta.started_at, meta.finished_at
        record.skip_reason = meta.skip_reason
        record.notes = meta.notes
    if failed is not None and partition.failed:
        record.status = FAILED
        record.error = redact(failed.error)
        record.finished_at = failed.failed_at
        record.failed_run_id = failed.run_id
    reason = no_run_reason() if record.status == PENDING and no_run_reason else None
    if reason:
        record.status, record.skip_reason = SKIPPED, f"no run due: {reason}"
    return record


def sidecar_fingerprint(tasks: Sequence[TaskRecord]) -> str:
    """Changes whenever any stage of the date finishes, fails or is invalidated."""
    digest = hashlib.sha256()
    for t in sorted(tasks, key=lambda t: t.task_family):
        digest.update(f"{t.task_family}|{t.status}|{t.finished_at}|{t.rows}\n".encode())
    return digest.hexdigest()


def collect_report(
    date: dt.date, pipelines: Sequence[str], tasks: Sequence[StageTask]
) -> RunReport:
    """Build the report of ``date`` from the sidecars of ``tasks``."""
    @functools.cache
    def reason(pipeline: str) -> str | None:
        known = pipeline in registry.names()
        return registry.get(pipeline).no_run_reason(date) if known else None

    records = [task_record(t, functools.partial(reason, t.pipeline)) for t in tasks]
    return report_of(date, pipelines, records)


def report_of(date: dt.date, pipelines: Sequence[str], records: Sequence[TaskRecord]) -> RunReport:
    """The report of ``date`` over ``pipelines`` from its tasks' records, in report order."""
    order = {stage: i for i, stage in enumerate(STAGES)}
    ordered = sorted(
        records,
        key=lambda r: (list(pipelines).index(r.pipeline), order.get(r.stage, 9), r.entity),
    )
    return RunReport(date=date.isoformat(), pipelines=list(pipelines), tasks=ordered)


def date_tasks(date: dt.date, pipelines: Sequence[str] | None = None) -> list[StageTask]:
    """Every stage task of ``date`` in ``pipelines`` (default: every registered pipeline)."""
    chosen = registry.names() if pipelines is None else registry.ordered(pipelines)
    return [task for name in chosen for task in registry.get(name).stage_tasks(date)]


def date_state(date: dt.date) -> RunReport:
    """The state of ``date``: every registered pipeline, as the sidecars say right now."""
    return collect_report(date, registry.names(), date_tasks(date))


def _format_time(iso: str | None) -> str:
    if not iso:
        return "-"
    return (
        dt.datetime.fromisoformat(iso).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    )


def _last_run_line(run: dict[str, Any] | None) -> str:
    if not run:
        return "   • Última execução: -"
    return (
        f"   • Última execução: {run.get('command')} ({', '.join(run.get('pipelines') or [])}), "
        f"id {run.get('run_id')}, relógio {float(run.get('wall_clock_s') or 0.0):.2f}s, "
        f"{len(run.get('tasks_run') or [])} tarefas executadas, saída {run.get('exit_code')}"
    )


def render_text(report: RunReport) -> str:
    """The report in the seed's layout, then the per-pipeline and per-task detail."""
    total = report.total_duration_s
    lines = [
        "📋 === RELATÓRIO FINAL DE EXECUÇÃO ===",
        f"📅 Data: {report.date}   Pipelines: {', '.join(report.pipelines)}"
        f"   Status: {report.status}",
        "⏱️ TEMPO DE EXECUÇÃO:",
        f"   • Início: {_format_time(report.started_at)}",
        f"   • Fim: {_format_time(report.finished_at)}",
        f"   • Duração Total: {total:.2f}s ({total / 60:.2f} min)",
        _last_run_line(report.last_run),
        "",
        "📊 ESTATÍSTICAS POR ETAPA:",
    ]
    for stage in STAGES:
        summary = report.stage_summary(stage)
        lines += [
            f"   {STAGE_TITLES[stage]}:",
            f"      Status: {summary.status}",
            f"      Duração: {summary.duration_s:.2f}s",
            f"      Registros: {summary.records}",
            "",
        ]
    lines += [
        "📈 TOTAIS:",
        f"   • Total de Registros Processados: {report.total_records}",
        f"   • Taxa de Processamento: {report.records_per_second:.2f} registros/segundo",
        "",
    ]
    if report.errors:
        lines.append(f"❌ ERROS ENCONTRADOS ({len(report.errors)}):")
        lines += [f"   • {error}" for error in report.errors]
    else:
        lines.append("✅ NENHUM ERRO ENCONTRADO")
    lines.append("🎯 === PIPELINE ETL FINALIZADO ===")
    lines += ["", "POR PIPELINE:"]
    for pipeline in report.pipelines:
        parts = []
        for stage in STAGES:
            s = report.stage_summary(stage, pipeline)
            parts.append(f"{stage} {s.status} {s.records} rows {s.duration_s:.2f}s")
        status = report.pipeline_status(pipeline)
        lines.append(f"   {pipeline:<7} {status:<10} " + " | ".join(parts))
    lines += ["", "TAREFAS:", f"   {'task':<28} {'status':<9} {'rows':>10} {'seconds':>9}  note"]
    for t in report.tasks:
        note = t.error or (f"skipped: {t.skip_reason}" if t.skip_reason else "")
        lines.append(
            f"   {t.task_family:<28} {t.status:<9} {t.rows:>10} {t.duration_s:>9.2f}  {note}"
        )
        lines += [f"      · {text}" for text in t.notes]
    return "\n".join(lines) + "\n"


def report_dir(date: dt.date) -> Path:
    """``<output>/reports/date=YYYY-MM-DD``."""
    return output_root() / "reports" / f"date={date.isoformat()}"


@contextlib.contextmanager
def report_lock(date: dt.date) -> Iterator[None]:
    """Serialise "compute the state, write it" of one date between processes (``--workers N``
    children and concurrent commands), so the last write is never an older view."""
    directory = report_dir(date)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_report(report: RunReport, status_page: bool = True, durable: bool = True) -> Path:
    """Write ``report.json`` and ``report.txt`` atomically, then refresh the status page
    (``<output>/reports/index.html``); returns the report directory.

    ``durable=False`` skips the fsync: for the refresh after each stage, which the end of the run
    rewrites anyway (a crash in between leaves the older whole file, never half of one)."""
    directory = report_dir(dt.date.fromisoformat(report.date))
    document = json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False,
                          default=str).encode("utf-8") + b"\n"
    text = render_text(report).encode("utf-8")
    from etl_tasks.core.targets import atomic_write_bytes  # the writer's side imports Arrow

    if durable:
        atomic_write_bytes(directory / "report.json", document)
        atomic_write_bytes(directory / "report.txt", text)
    else:
        _replace_quickly(directory / "report.json", document)
        _replace_quickly(directory / "report.txt", text)
    if status_page:
        rebuild_status_page()
    return directory


def _replace_quickly(path: Path, payload: bytes) -> None:
    """Write a temporary file and rename it over ``path`` (atomic for readers, not fsynced)."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_bytes(payload)
    os.replace(temp, path)


def rebuild_status_page() -> None:
    """Rebuild ``<output>/reports/index.html``; a problem is logged, never raised (the page is a
    convenience and must not fail a run)."""
    from etl_tasks.status_page import build_status_page

    try:
        build_status_page(output_root())
    except Exception:
        logger.exception("could not rebuild the status page")


def refresh_report(
    date: dt.date,
    last_run: dict[str, Any] | None = None,
    status_page: bool = True,
    durable: bool = True,
) -> RunReport:
    """Recompute the state of ``date`` from disk and write it, keeping the last run record
    already written unless ``last_run`` replaces it; returns the state."""
    with report_lock(date):
        state = date_state(date)
        written = read_report(date)
        state.last_run = last_run or (written or {}).get("last_run")
        write_report(state, status_page, durable)
    return state


def read_report(date: dt.date) -> dict[str, Any] | None:
    """The last written ``report.json`` of a date, if any."""
    return read_json(report_dir(date) / "report.json")


def dumps(report: RunReport) -> str:
    """JSON text of a report (for ``--json`` outputs)."""
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
