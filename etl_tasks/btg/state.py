"""What the BTG gates and the re-fetch need to know about a stage partition, read in one place.

    sidecar(task)                     # the typed Sidecar, or None while not complete
    sidecar_value(task, "sha256")     # one field of it (None while not complete)
    failure_line(task)                # "BtgTransformFundos failed: DataQualityError: ..." or None
    has_anything(task)                # sidecar, failure record or data present

Everything goes through the typed sidecar readers of :mod:`etl_tasks.core.sidecar`.
"""

from __future__ import annotations

from typing import Any

from etl_tasks.core.sidecar import Sidecar
from etl_tasks.core.stage import StageTask


def sidecar(task: StageTask) -> Sidecar | None:
    """The partition's sidecar when it is complete (data written too), else None."""
    partition = task.partition()
    return partition.sidecar() if partition.exists() else None


def sidecar_value(task: StageTask, key: str) -> Any:
    found = sidecar(task)
    return None if found is None else getattr(found, key)


def failure_line(task: StageTask) -> str | None:
    """The recorded failure of ``task`` when it is newer than its last success, as one line."""
    record = task.partition().record()
    if not record.failed or record.failure is None:
        return None
    return f"{task.task_family} failed: {record.failure.error}"


def failure_at(task: StageTask) -> str | None:
    """When the recorded failure of ``task`` happened (ISO UTC), if there is one."""
    failure = task.partition().failure()
    return None if failure is None else failure.failed_at


def has_anything(task: StageTask) -> bool:
    """Whether the partition holds a sidecar, a failure record or data."""
    record = task.partition().record()
    return (record.sidecar is not None or record.failure is not None
            or task.partition().data_path.exists())
