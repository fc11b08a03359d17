"""The run driver: one date, run the same way by etl-run, orquestrador-btg and etl-backfill.

    request = RunRequest(date, ["a_pipeline"], workers=1)
    result = run_date(request, record)          # locks, Luigi, state, success rule, report

One success rule for every command: a run succeeded when Luigi's own exit code (``[retcode]``) is
0 *and* every task of the run's scope (its pipelines, or the tasks a command names, e.g. one of a
pipeline's reports) is done or skipped by design in the date's state; Luigi saying "fine" over a
gap is exit 25 (not run). The pipelines are a parameter of ``RunAll`` and the environment of the
run (landing directories, the run id) is set for the run only: no global Luigi configuration is
changed.

A complete date is answered without building anything: when the date's written report is the
current state of its sidecars and every task of the scope is done (load markers checked with one
connection per warehouse), nothing is built and nothing is rewritten. That check, when it says
"complete", leaves a no-op manifest, and the next rerun of the same selection is answered from it
without importing Luigi, Arrow or any task module (:mod:`etl_tasks.ops.noop`); this module imports
Luigi only once a run needs the full check or a build.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from etl_tasks import luigi_cfg
from etl_tasks.core.runtime import RUN_ID_ENV
from etl_tasks.ops.lock import EXIT_ALREADY_RUNNING, AlreadyRunningError, run_locks
from etl_tasks.ops.noop import quick_noop_state, write_manifest
from etl_tasks.ops.runs import RunRecord
from etl_tasks.report import (
    COMPLETE_STATUSES,
    RunReport,
    date_state,
    date_tasks,
    read_report,
    refresh_report,
    sidecar_fingerprint,
)

if TYPE_CHECKING:  # imported where a run needs them: a no-op rerun never imports Luigi
    import luigi

    from etl_tasks.core.stage import StageTask

logger = logging.getLogger(__name__)

EXIT_OK = 0


@dataclass
class RunRequest:
    """One date to run: which pipelines, how, and (optionally) a narrower scope."""

    date: dt.date
    pipelines: list[str]
    workers: int = 1
    scheduler_url: str | None = None
    # The tasks to build; default ``RunAll(date, pipelines)``.
    roots: Callable[[], list[luigi.Task]] | None = None
    # Task families the success rule covers; default every stage task of ``pipelines``.
    scope: Sequence[str] | None = None
    # Environment of the run (e.g. landing directories chosen on the command line).
    env: dict[str, str] = field(default_factory=dict)
    # The pipelines' own options of this run ({pipeline: {key: value}}, e.g. a lookback).
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def root_tasks(self) -> list[luigi.Task]:
        if self.roots is not None:
            return self.roots()
        from etl_tasks.run_all import RunAll

        return [RunAll(date=self.date, pipelines=",".join(self.pipelines), options=self.options)]

    def scope_tasks(self) -> list[StageTask]:
        tasks = date_tasks(self.date, self.pipelines)
        if self.scope is None:
            return tasks
        return [task for task in tasks if task.task_family in self.scope]


@dataclass
class DateResult:
    """What running one date did, and the state it left."""

    date: dt.date
    pipelines: list[str]
    exit_code: int
    state: RunReport  # the whole date, every pipeline
    scope: RunReport  # the part this run answers for
    tasks_run: list[str] = field(default_factory=list)
    noop: bool = False
    locked: str | None = None  # who holds the date, when the run was refused
    luigi_summary: str = ""
    crash: str | None = None  # the scheduler or graph error that stopped Luigi, if any

    @property
    def status(self) -> str:
        return "LOCKED" if self.locked else self.scope.status

    @property
    def succeeded(self) -> bool:
        return self.exit_code == EXIT_OK


@contextlib.contextmanager
def run_environment(run_id: str, env: dict[str, str]) -> Iterator[None]:
    """The run id and the request's environment for the block (inherited by ``--workers``
    subprocesses), then the environment as it was."""
    values = {RUN_ID_ENV: run_id, **env}
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def noop_state(request: RunRequest) -> RunReport | None:
    """The date's state when it is already complete for the request and its report is current
    (the written fingerprint equals the sidecars', every scope task is done, loads by their
    warehouse marker read once per warehouse); None when there is work. Any doubt (a warehouse
    down) means "run it"."""
    written = read_report(request.date)
    if not written:
        return None
    state = date_state(request.date)
    if written.get("fingerprint") != sidecar_fingerprint(state.tasks):
        return None
    if state.only(request.pipelines, request.scope).status not in COMPLETE_STATUSES:
        return None
    from etl_tasks.ops.status import COMPLETE, task_state
    from etl_tasks.ops.warehouse_view import WarehouseView

    # A pipeline option (e.g. a lookback) adds tasks outside the date's own: ask the roots.
    if request.options and not all(task.complete() for task in request.root_tasks()):
        return None
    view = WarehouseView()
    scope_tasks = request.scope_tasks()
    if not all(task_state(task, view).symbol in COMPLETE for task in scope_tasks):
        return None
    if not request.options:
        try:  # the next rerun is answered without Luigi (etl_tasks.ops.noop)
            write_manifest(request.date, request.pipelines, request.scope, request.env, state,
                           date_tasks(request.date), scope_tasks)
        except OSError as error:  # a cache: its absence only makes the next rerun slower
            logger.warning("could not write the no-op manifest of %s: %s", request.date, error)
    state.last_run = written.get("last_run")  # what is printed is what is on disk
    return state


def _leave_manifest(request: RunRequest, run_id: str) -> None:
    """After a run that completed the date: the full no-op check, for its manifest, so the next
    rerun of the same selection is answered without Luigi. Never fails the run it follows."""
    if not luigi_cfg.memory_matches_files():
        return  # no manifest would be written (values set in memory): spare the check
    try:
        with run_locks(request.pipelines, [request.date]), run_environment(run_id, request.env):
            noop_state(request)
    except Exception as error:  # a cache: the next rerun then runs the full check itself
        logger.warning("no no-op manifest for %s: %s: %s", request.date, type(error).__name__,
                       error)


def _build(request: RunRequest) -> tuple[int, list[str], str, str | None]:
    """Run Luigi in this process; (exit code, task families run, one-line summary, crash). The
    caller presents a crash (in its own language); the driver only returns it."""
    import luigi
    from luigi.configuration import get_config
    from luigi.retcodes import retcode

    from etl_tasks.ops.luigi_result import worker_exit_code, worker_families

    # The entry points' console + file handlers already catch Luigi's loggers; Luigi adding its
    # own console handler on top would print every line twice.
    get_config().set("core", "no_configure_logging", "true")
    options: dict[str, object] = {"workers": request.workers, "detailed_summary": True}
    if request.scheduler_url:
        options.update(scheduler_url=request.scheduler_url, local_scheduler=False)
    else:
        options["local_scheduler"] = True
    try:
        result = luigi.build(request.root_tasks(), **options)
    except Exception as error:  # a scheduler or graph crash still ends in a record and a report
        crash = f"{type(error).__name__}: {error}"
        return retcode().unhandled_exception or 40, [], crash, crash
    code, ran = worker_exit_code(result.worker), worker_families(result.worker, "completed")
    return code, ran, result.one_line_summary, None


def run_date(request: RunRequest, record: RunRecord) -> DateResult:
    """Run one date under its run locks; write its state with this run as ``last_run`` (unless
    nothing was done); return what happened. Never raises for a failed run."""
    per_date = RunRecord.start(
        record.command.split(" ", 1)[0], [], request.pipelines, [request.date], record.run_id
    )
    per_date.command, per_date.log = record.command, record.log
    try:
        with run_locks(request.pipelines, [request.date]), run_environment(
            record.run_id, request.env
        ):
            state = quick_noop_state(
                request.date, request.pipelines, request.scope, request.options, request.env
            )
            if state is None:
                from etl_tasks.luigi_setup import install_luigi

                install_luigi()  # the full check and a build need Luigi and the task modules
                state = noop_state(request)
            if state is not None:
                scope = state.only(request.pipelines, request.scope)
                logger.debug("%s is complete and its report current: nothing to run", request.date)
                return DateResult(request.date, request.pipelines, EXIT_OK, state, scope, noop=True)
            code, ran, summary, crash = _build(request)
            state = date_state(request.date)
    except AlreadyRunningError as error:
        state = date_state(request.date)
        return DateResult(
            request.date, request.pipelines, EXIT_ALREADY_RUNNING, state,
            state.only(request.pipelines, request.scope), locked=error.in_progress(),
        )
    scope = state.only(request.pipelines, request.scope)
    if code == EXIT_OK and scope.status not in COMPLETE_STATUSES:
        from luigi.retcodes import retcode

        code = retcode().not_run or 25  # never report success over a gap
    per_date.finish(code, scope.status, ran)
    try:
        state = refresh_report(request.date, last_run=per_date.to_json())
    except OSError as error:  # e.g. a full or read-only disk: the run's own outcome still counts
        logger.error("could not write the state of %s: %s", request.date, error)
    else:
        if code == EXIT_OK and not request.options:
            _leave_manifest(request, record.run_id)
    return DateResult(
        request.date, request.pipelines, code, state, state.only(request.pipelines, request.scope),
        tasks_run=ran, luigi_summary=summary, crash=crash,
    )
