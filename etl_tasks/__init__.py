"""etl_tasks: daily API → warehouse batch pipelines on Luigi.

    luigi --module etl_tasks RunAll --date 2025-04-10 --local-scheduler

Under plain Luigi (the ``luigi`` command, or any process that imported Luigi before this package)
importing the package installs the project's Luigi set-up (:mod:`etl_tasks.luigi_setup`: the
packaged ``defaults.cfg`` as the lowest-precedence configuration, the scheduler preflight, the
error boundary, the run record) and imports every task module, so ``--module etl_tasks`` finds
every task class. Anywhere else (our own commands) importing the package imports nothing: the
task classes are loaded on first access (``etl_tasks.RunAll``), and the set-up is installed by
the first module that needs Luigi, so a command that never needs it — a no-op rerun of a complete
day, ``--help`` — starts without Luigi, Arrow or pandas.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def _under_plain_luigi() -> bool:
    from etl_tasks.error_boundary import is_luigi_command

    return "luigi" in sys.modules or is_luigi_command()


def _task_classes() -> dict[str, Any]:
    from etl_tasks.luigi_setup import install_luigi

    install_luigi()
    import etl_tasks.config_sections  # noqa: F401  ([paths], [http] on Luigi's command line)
    from etl_tasks.run_all import ReportTask, RunAll
    from etl_tasks.tasks_index import TASK_CLASSES

    return {
        "ReportTask": ReportTask,
        "RunAll": RunAll,
        **{cls.__name__: cls for cls in TASK_CLASSES},
    }


def _is_submodule(name: str) -> bool:
    folder = Path(__file__).parent
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def _export() -> dict[str, Any]:
    classes = _task_classes()
    globals().update(classes)
    globals()["__all__"] = list(classes)
    return classes


def __getattr__(name: str) -> Any:
    # Lazily, the first time a task class is asked for (``etl_tasks.RunAll``, ``from etl_tasks
    # import *``): importing the task modules imports Luigi and Arrow.
    if (name.startswith("__") and name != "__all__") or _is_submodule(name):
        # ``from etl_tasks import config`` asks the attribute first: let the import load it.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    classes = _export()
    if name == "__all__" or name in classes:
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if _under_plain_luigi():
    _export()
