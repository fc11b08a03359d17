"""Every task class of every pipeline, collected for ``luigi --module etl_tasks``.

A pipeline whose module cannot be imported yet is simply absent here; the import error itself is
re-raised when that pipeline is actually run (see ``run_all.pipeline_module``).
"""

from __future__ import annotations

import importlib
import logging

import luigi

logger = logging.getLogger(__name__)

PIPELINE_TASK_MODULES = ("etl_tasks.twitch.tasks", "etl_tasks.btg.tasks")


def _collect() -> list[type[luigi.Task]]:
    classes: list[type[luigi.Task]] = []
    for name in PIPELINE_TASK_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        classes += [getattr(module, attr) for attr in getattr(module, "__all__", ())]
    return classes


TASK_CLASSES: list[type[luigi.Task]] = _collect()
