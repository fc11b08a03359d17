"""What the BTG gates and the re-fetch need to know about a stage partition, read in one place.

    sidecar_value(task, "sha256")     # None while the partition is not complete
    failure_line(task)                # "BtgTransformFundos failed: DataQualityError: ..." or None
    has_anything(task)                # sidecar, failure record or data present

Kept apart so the readers of the BTG package follow the project's sidecar reader in one module.
"""

from __future__ import annotations

from typing import Any

from etl_tasks.core.stage import StageTask
from etl_tasks.core.targets import read_json


def sidecar(task: StageTask) -> dict[str, Any]:
    """The partition's ``_meta.json`` as a dict ({} while the partition is not complete)."""
    partition = task.partition()
    return dict(partition.meta()) if partition.exists() else {}


def sidecar_value(task: StageTask, key: str) -> Any:
    return sidecar(task).get(key)


def sidecar_extra(task: StageTask) -> dict[str, Any]:
    return dict(sidecar(task).get("extra") or {})


def failure_line(task: StageTask) -> str | None:
    """The recorded failure of ``task`` when it is newer than its last success, as one line."""
    partition = task.partition()
    failed = read_json(partition.failed_path)
    if not failed:
        return None
    meta = read_json(partition.meta_path) or {}
    if meta and str(failed.get("failed_at", "")) <= str(meta.get("finished_at", "")):
        return None
    return f"{task.task_family} failed: {failed.get('error_type')}: {failed.get('message')}"


def failure_at(task: StageTask) -> str | None:
    """When the recorded failure of ``task`` happened (ISO UTC), if there is one."""
    failed = read_json(task.partition().failed_path)
    return str(failed.get("failed_at")) if failed else None


def has_anything(task: StageTask) -> bool:
    """Whether the partition holds a sidecar, a failure record or data."""
    partition = task.partition()
    return any(path.exists() for path in (partition.meta_path, partition.failed_path,
                                          partition.data_path))
