"""Every task class of every registered pipeline, collected for ``luigi --module etl_tasks``.

A pipeline whose tasks module cannot be imported yet is simply absent here; the import error itself
is re-raised when that pipeline is actually run (``Pipeline.tasks``).
"""

from __future__ import annotations

import importlib
import logging

import luigi

from etl_tasks import pipelines as registry

logger = logging.getLogger(__name__)


def _collect() -> list[type[luigi.Task]]:
    classes: list[type[luigi.Task]] = []
    for pipeline in registry.registered():
        name = pipeline.tasks_module
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        classes += [getattr(module, attr) for attr in getattr(module, "__all__", ())]
    return classes


TASK_CLASSES: list[type[luigi.Task]] = _collect()
