"""etl_tasks: daily API → warehouse batch pipelines on Luigi.

    luigi --module etl_tasks RunAll --date 2025-04-10 --local-scheduler

Importing the package exports every task class (so ``--module etl_tasks`` finds them) and makes the
packaged ``etl_tasks/defaults.cfg`` the lowest-precedence Luigi configuration, so the ``[retcode]``
exit codes, INFO logging and ``check_complete_on_run`` hold in every install mode and from any
directory; ``/etc/luigi/luigi.cfg``, a ``luigi.cfg`` in the current directory and
``LUIGI_CONFIG_PATH`` still override it. A run against a central scheduler that does not answer
stops at once with one line and exit 3, as does one whose ``ETL_ENV_FILE`` is missing
(:mod:`etl_tasks.ops.preflight`). Under the ``luigi`` command the run ends, as every other
command's, with its run record printed and appended to ``<output>/runs.jsonl``
(:mod:`etl_tasks.ops.plain_luigi`).
"""

from __future__ import annotations

import configparser
import contextlib

try:  # importing Luigi already reads LUIGI_CONFIG_PATH: a broken file is one line, not a traceback
    from etl_tasks.config import install_packaged_defaults
    from etl_tasks.ops.preflight import install_preflight

    install_packaged_defaults()
    install_preflight()
except configparser.Error as _error:
    from etl_tasks.error_boundary import exit_unreadable_config

    exit_unreadable_config(_error)

from etl_tasks.error_boundary import install as install_error_boundary
from etl_tasks.errors import EtlError
from etl_tasks.ops.lock import scope_luigi_process_lock
from etl_tasks.ops.plain_luigi import install as install_run_record
from etl_tasks.run_all import ReportTask, RunAll
from etl_tasks.tasks_index import TASK_CLASSES

# Luigi's own process lock per deployment (output directory), not per command line. An output
# directory that cannot be created is reported by the run that needs it.
with contextlib.suppress(EtlError):
    scope_luigi_process_lock(create=False)
install_error_boundary()  # known errors in Luigi's logs and the `luigi` command: one line
install_run_record()  # the `luigi` command, like every other, ends with its run record

globals().update({cls.__name__: cls for cls in TASK_CLASSES})
__all__ = ["ReportTask", "RunAll", *(cls.__name__ for cls in TASK_CLASSES)]
