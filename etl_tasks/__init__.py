"""etl_tasks: daily API → warehouse batch pipelines on Luigi.

    luigi --module etl_tasks RunAll --date 2025-04-10 --local-scheduler

Importing the package exports every task class (so ``--module etl_tasks`` finds them) and makes the
repository's ``luigi.cfg`` the lowest-precedence configuration, so the ``[retcode]`` exit codes and
INFO logging hold even when a command runs from another directory; a ``luigi.cfg`` in the current
directory or ``LUIGI_CONFIG_PATH`` still override it.
"""

from __future__ import annotations

import configparser
import contextlib
import sys
from pathlib import Path


def _install_default_config() -> None:
    # Imported here, inside the try below: importing Luigi reads LUIGI_CONFIG_PATH already.
    from luigi.configuration import LuigiConfigParser, get_config

    default = Path(__file__).resolve().parent.parent / "luigi.cfg"
    paths = LuigiConfigParser._config_paths
    if default.is_file() and str(default) not in paths:
        paths.insert(0, str(default))
        get_config().reload()


try:
    _install_default_config()
except configparser.Error as _error:  # a broken luigi.cfg: one line, not an import traceback
    from etl_tasks.error_boundary import exit_unreadable_config

    exit_unreadable_config(_error)

from etl_tasks.error_boundary import install as install_error_boundary  # noqa: E402
from etl_tasks.errors import EtlError  # noqa: E402
from etl_tasks.ops.lock import scope_luigi_process_lock  # noqa: E402
from etl_tasks.run_all import ReportTask, RunAll  # noqa: E402
from etl_tasks.tasks_index import TASK_CLASSES  # noqa: E402

# Luigi's own process lock per deployment (output directory), not per command line. An output
# directory that cannot be created is reported by the run that needs it.
with contextlib.suppress(EtlError):
    scope_luigi_process_lock(create=Path(sys.argv[0] if sys.argv else "").name == "luigi")
install_error_boundary()  # known errors in Luigi's logs and the `luigi` command: one line

globals().update({cls.__name__: cls for cls in TASK_CLASSES})
__all__ = ["ReportTask", "RunAll", *(cls.__name__ for cls in TASK_CLASSES)]
