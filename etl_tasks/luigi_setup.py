"""What the project sets up in Luigi before Luigi runs anything of ours (idempotent).

    install_luigi()

* the packaged ``etl_tasks/defaults.cfg`` becomes Luigi's lowest-precedence configuration, so the
  ``[retcode]`` exit codes, INFO logging and ``check_complete_on_run`` hold in every install mode
  and from any directory (``/etc/luigi/luigi.cfg``, ``./luigi.cfg`` and ``LUIGI_CONFIG_PATH`` still
  override it); a configuration file that cannot be parsed is one line, not a traceback;
* a run against a central scheduler that does not answer stops at once with one line and exit 3,
  as does one whose ``ETL_ENV_FILE`` is missing (:mod:`etl_tasks.ops.preflight`);
* Luigi's own process lock is scoped per deployment (output directory), not per command line;
* known errors in Luigi's logs and the ``luigi`` command are one line
  (:mod:`etl_tasks.error_boundary`); under the ``luigi`` command the run ends, as every other
  command's, with its run record (:mod:`etl_tasks.ops.plain_luigi`).

Called by ``import etl_tasks`` under plain ``luigi`` and, in our own commands, by the first module
that needs Luigi (:mod:`etl_tasks.core.stage`, :mod:`etl_tasks.config_section`, the run driver):
a command that never gets that far (a no-op rerun, ``--help``) never imports Luigi.
"""

from __future__ import annotations

import configparser
import contextlib

_INSTALLED = False


def install_luigi() -> None:
    """Install the project's Luigi set-up once per process."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    try:  # importing Luigi already reads LUIGI_CONFIG_PATH: a broken file is one line
        from etl_tasks.config import install_packaged_defaults
        from etl_tasks.ops.preflight import install_preflight

        install_packaged_defaults()
        install_preflight()
    except configparser.Error as error:
        from etl_tasks.error_boundary import exit_unreadable_config

        exit_unreadable_config(error)

    from etl_tasks.error_boundary import install as install_error_boundary
    from etl_tasks.errors import EtlError
    from etl_tasks.ops.lock import scope_luigi_process_lock
    from etl_tasks.ops.plain_luigi import install as install_run_record

    # An output directory that cannot be created is reported by the run that needs it.
    with contextlib.suppress(EtlError):
        scope_luigi_process_lock(create=False)
    install_error_boundary()
    install_run_record()
