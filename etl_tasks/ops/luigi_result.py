"""What a Luigi run did, in Luigi's own terms: its exit code and the task families it ran.

Shared by the run driver (:mod:`etl_tasks.ops.driver`) and plain ``luigi``'s run record
(:mod:`etl_tasks.ops.plain_luigi`).
"""

from __future__ import annotations

import luigi.execution_summary
import luigi.worker
from luigi.retcodes import retcode


def luigi_exit_code(result: luigi.execution_summary.LuigiRunResult) -> int:
    """The exit code ``luigi`` itself would give for this run (``[retcode]`` of luigi.cfg)."""
    return worker_exit_code(result.worker)


def worker_exit_code(worker: luigi.worker.Worker) -> int:
    """The exit code ``luigi`` gives for what ``worker`` did (``luigi.retcodes``' own rule)."""
    codes = retcode()
    sets = luigi.execution_summary._summary_dict(worker)
    root = luigi.execution_summary._root_task(worker)
    seen = {key for key, tasks in sets.items() if tasks}
    conditions = (
        (codes.missing_data, "still_pending_ext"),
        (codes.task_failed, "failed"),
        (codes.already_running, "run_by_other_worker"),
        (codes.scheduling_error, "scheduling_error"),
        (codes.not_run, "not_run"),
    )
    code = max((value for value, key in conditions if key in seen), default=0)
    if code == 0 and root not in sets["completed"] and root not in sets["already_done"]:
        return codes.not_run
    return code


def worker_families(worker: luigi.worker.Worker, key: str) -> list[str]:
    """The task families of one summary set of ``worker`` (e.g. ``completed``), sorted."""
    sets = luigi.execution_summary._summary_dict(worker)
    return sorted(task.task_family for task in sets.get(key, set()))
