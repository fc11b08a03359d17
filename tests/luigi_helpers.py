"""Run Luigi graphs in tests and see exactly which tasks ran."""

from __future__ import annotations

from dataclasses import dataclass

import luigi
import luigi.execution_summary


@dataclass
class BuildResult:
    """Which task families Luigi ran, skipped as done, or saw fail."""

    ok: bool
    ran: set[str]
    already_done: set[str]
    failed: set[str]
    not_run: set[str]


def build(*tasks: luigi.Task, workers: int = 1) -> BuildResult:
    """``luigi.build`` with the local scheduler; instance cache cleared before and after."""
    luigi.task_register.Register.clear_instance_cache()
    result = luigi.build(list(tasks), local_scheduler=True, detailed_summary=True, workers=workers)
    summary = luigi.execution_summary._summary_dict(result.worker)
    luigi.task_register.Register.clear_instance_cache()

    def families(key: str) -> set[str]:
        return {task.task_family for task in summary.get(key, set())}

    return BuildResult(
        ok=result.scheduling_succeeded and not summary.get("failed"),
        ran=families("completed"),
        already_done=families("already_done"),
        failed=families("failed") | families("scheduling_error"),
        not_run=families("not_run") | families("upstream_failure"),
    )
