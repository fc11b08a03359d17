"""The run report of one date: collected from the stage sidecars, rendered as text and JSON.

The text keeps the layout of the original Twitch orchestrator guide (the "RELATÓRIO FINAL DE
EXECUÇÃO" block: start, end, total duration, EXTRACT/TRANSFORM/LOAD with status, duration and
records, totals, records per second, the error list or "NENHUM ERRO ENCONTRADO"), followed by a
per-pipeline and a per-task table. ``report.json`` carries the same numbers.

Everything is read from disk (``_meta.json`` / ``_failed.json``), never from memory, so the report
is right whether the stages ran in this process, in ``--workers N`` subprocesses, or in
earlier runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from etl_tasks.core.redact import redact
from etl_tasks.core.stage import StageTask, output_root, utc_now
from etl_tasks.core.targets import atomic_write_bytes, atomic_write_json, read_json

logger = logging.getLogger(__name__)

STAGES = ("extract", "transform", "load")
STAGE_TITLES = {"extract": "📥 EXTRACT", "transform": "🔄 TRANSFORM", "load": "💾 LOAD"}

# Task and run statuses.
DONE, SKIPPED, FAILED, PENDING = "SUCCESS", "SKIPPED", "FAILED", "NOT RUN"


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


@dataclass
class StageSummary:
    """One EXTRACT / TRANSFORM / LOAD line of the report."""

    status: str
    duration_s: float
    records: int


@dataclass
class RunReport:
    """The report of one date over the given pipelines."""

    date: str
    pipelines: list[str]
    tasks: list[TaskRecord]
    generated_at: str = field(default_factory=lambda: utc_now().isoformat())

    @property
    def errors(self) -> list[str]:
        return [
            f"[{t.task_family} {self.date}] {t.error}" for t in self.tasks if t.status == FAILED
        ]

    @property
    def status(self) -> str:
        statuses = {t.status for t in self.tasks}
        if FAILED in statuses:
            return FAILED
        if PENDING in statuses:
            return "INCOMPLETE"
        if statuses and statuses <= {SKIPPED}:
            return SKIPPED
        return DONE

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
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "pipelines": self.pipelines,
            "status": self.status,
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
            "fingerprint": sidecar_fingerprint(self.tasks),
        }


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


def task_record(task: StageTask) -> TaskRecord:
    """Read one task's sidecar (or failure file) into a :class:`TaskRecord`."""
    record = TaskRecord(task.pipeline, task.stage, task.entity, task.task_family, PENDING)
    partition = task.partition().record()
    meta, failed = partition.sidecar, partition.failure
    if meta is None and task.stage == "schema":
        # Tables created by an earlier date (or by hand) leave no sidecar for this one.
        record.status = DONE
    if meta is not None:
        record.status = SKIPPED if meta.skipped else DONE
        record.rows = meta.rows
        record.duration_s = meta.duration_s
        record.started_at, record.finished_at = meta.started_at, meta.finished_at
        record.skip_reason = meta.skip_reason
    if failed is not None and partition.failed:
        record.status = FAILED
        record.error = redact(failed.error)
        record.finished_at = failed.failed_at
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
    order = {stage: i for i, stage in enumerate(STAGES)}
    records = sorted(
        (task_record(t) for t in tasks),
        key=lambda r: (list(pipelines).index(r.pipeline), order.get(r.stage, 9), r.entity),
    )
    return RunReport(date=date.isoformat(), pipelines=list(pipelines), tasks=records)


def _format_time(iso: str | None) -> str:
    if not iso:
        return "-"
    return (
        dt.datetime.fromisoformat(iso).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
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
        lines.append(f"   {pipeline:<7} " + " | ".join(parts))
    lines += ["", "TAREFAS:", f"   {'task':<28} {'status':<9} {'rows':>10} {'seconds':>9}  note"]
    for t in report.tasks:
        note = t.error or (f"skipped: {t.skip_reason}" if t.skip_reason else "")
        lines.append(
            f"   {t.task_family:<28} {t.status:<9} {t.rows:>10} {t.duration_s:>9.2f}  {note}"
        )
    return "\n".join(lines) + "\n"


def report_dir(date: dt.date) -> Path:
    """``<output>/reports/date=YYYY-MM-DD``."""
    return output_root() / "reports" / f"date={date.isoformat()}"


def write_report(report: RunReport) -> Path:
    """Write ``report.json`` and ``report.txt`` atomically, then refresh the status page
    (``<output>/reports/index.html``); returns the report directory."""
    directory = report_dir(dt.date.fromisoformat(report.date))
    atomic_write_json(directory / "report.json", report.to_json())
    atomic_write_bytes(directory / "report.txt", render_text(report).encode("utf-8"))
    from etl_tasks.status_page import build_status_page

    try:
        build_status_page(output_root())
    except Exception:  # the page is a convenience: never fail a run over it
        logger.exception("could not rebuild the status page")
    return directory


def read_report(date: dt.date) -> dict[str, Any] | None:
    """The last written ``report.json`` of a date, if any."""
    return read_json(report_dir(date) / "report.json")


def dumps(report: RunReport) -> str:
    """JSON text of a report (for ``--json`` outputs)."""
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
