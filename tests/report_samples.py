"""Hand-made run reports for the alert and status-page tests, built with the real report classes.

``sample_report("2025-04-10", {"twitch": {"load": Stage("FAILED", error="boom")}})`` gives a
:class:`RunReport` whose ``to_json()`` is exactly what the entry points write; stages not named
default to a successful task with a few rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl_tasks.report import STAGES, RunReport, TaskRecord


@dataclass(frozen=True)
class Stage:
    """What one pipeline stage did that day (one task stands for the stage)."""

    status: str = "SUCCESS"
    rows: int = 100
    duration_s: float = 1.5
    error: str | None = None


ENTITIES = {"twitch": "streams", "btg": "carteira"}


def sample_report(date: str, pipelines: dict[str, dict[str, Stage]]) -> RunReport:
    """A report of ``date`` for the given pipelines (missing stages succeed)."""
    tasks: list[TaskRecord] = []
    for pipeline, stages in pipelines.items():
        entity = ENTITIES.get(pipeline, "things")
        for stage in STAGES:
            spec = stages.get(stage, Stage())
            done = spec.status in ("SUCCESS", "SKIPPED", "FAILED")
            tasks.append(
                TaskRecord(
                    pipeline=pipeline,
                    stage=stage,
                    entity=entity,
                    task_family=f"{pipeline.capitalize()}{stage.capitalize()}{entity.capitalize()}",
                    status=spec.status,
                    rows=spec.rows if spec.status == "SUCCESS" else 0,
                    duration_s=spec.duration_s if done else 0.0,
                    started_at=f"{date}T06:00:00+00:00" if done else None,
                    finished_at=f"{date}T06:00:01.500000+00:00" if done else None,
                    error=spec.error,
                    skip_reason="not a business day" if spec.status == "SKIPPED" else None,
                )
            )
    return RunReport(
        date=date,
        pipelines=list(pipelines),
        tasks=tasks,
        generated_at=f"{date}T06:00:02+00:00",
    )
