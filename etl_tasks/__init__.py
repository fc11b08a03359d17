"""etl_tasks: daily API → warehouse batch pipelines on Luigi.

    luigi --module etl_tasks RunAll --date 2025-04-10 --local-scheduler

Importing the package exports every task class (so ``--module etl_tasks`` finds them) and makes the
repository's ``luigi.cfg`` the lowest-precedence configuration, so the ``[retcode]`` exit codes and
INFO logging hold even when a command runs from another directory; a ``luigi.cfg`` in the current
directory or ``LUIGI_CONFIG_PATH`` still override it.
"""

from __future__ import annotations

from pathlib import Path

from luigi.configuration import LuigiConfigParser, get_config


def _install_default_config() -> None:
    default = Path(__file__).resolve().parent.parent / "luigi.cfg"
    paths = LuigiConfigParser._config_paths
    if default.is_file() and str(default) not in paths:
        paths.insert(0, str(default))
        get_config().reload()


_install_default_config()

from etl_tasks.ops.lock import scope_luigi_process_lock  # noqa: E402
from etl_tasks.run_all import ReportTask, RunAll  # noqa: E402
from etl_tasks.tasks_index import TASK_CLASSES  # noqa: E402

scope_luigi_process_lock()  # Luigi's own process lock per deployment, not per command line

globals().update({cls.__name__: cls for cls in TASK_CLASSES})
__all__ = ["ReportTask", "RunAll", *(cls.__name__ for cls in TASK_CLASSES)]
