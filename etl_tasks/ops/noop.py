"""The no-op rerun of a complete day, answered without Luigi, Arrow or pandas.

    state = quick_noop_state(date, pipelines, scope, options, env)   # RunReport, or None: run it

A rerun of a day that is complete must not cost what a run costs: ``etl-run --date D`` from cron,
run again by hand, or ``orquestrador-btg`` after ``etl-run`` covered the same day. The run driver's
own check (:func:`etl_tasks.ops.driver.noop_state`) builds the day's Luigi tasks and asks each one;
that needs Luigi and every task module, whose imports alone (Arrow, numpy, pandas) cost more than
the rest of the rerun. So when that check finds the day complete, it leaves beside the day's
report a *no-op manifest* (``reports/date=D/.noop-<selection>.json``): what it looked at and what
it saw —

* ``key``: a digest of everything the day's task graph is made from: the date, the pipelines and
  scope, the current directory, every luigi.cfg file (:func:`etl_tasks.luigi_cfg.files_digest`),
  the ``.env`` keys the tool reads and the run's own environment, and the package's files;
* ``tasks``: every stage task of the date (all registered pipelines, as the report holds them):
  family, pipeline, stage, entity and partition directory, plus each pipeline's no-run reason
  when a task of it had nothing on disk;
* ``files``: every file in those partition directories and in those of the scope tasks'
  upstream stages (name, inode, size, mtime);
* ``warehouse``: per scope load its table, partition and the sha256 its marker held (the
  transform file's), per schema task the tables it needs.

A later rerun with no pipeline options (a lookback asks tasks outside the date's own: those always
go to the full check) answers from the manifest when — and only when — the key is the same, every
file is exactly as it was (any sidecar, data file or failure file written, removed or replaced
changes it), the report on disk is the current state of the sidecars (the same fingerprint check
as the driver's) with every scope task done or skipped, and the warehouse, asked now
(:func:`etl_tasks.warehouse.peek.peek`, one connection per URL), still holds every table and every
marker with the same sha256. Anything else — no manifest, another configuration, a changed or
deleted file, a missing marker or table, a warehouse that cannot be read — returns None, and the
driver runs its full check and, if there is work, the work. The answer prints the same state and
writes the same run record as the full check's no-op; the report is not rewritten.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl_tasks import luigi_cfg
from etl_tasks import pipelines as registry
from etl_tasks.config import known_keys, load_env, warehouse_key, warehouse_url
from etl_tasks.core.sidecar import read_json, read_partition
from etl_tasks.errors import EtlError
from etl_tasks.report import (
    COMPLETE_STATUSES,
    PENDING,
    RunReport,
    partition_task_record,
    read_report,
    report_dir,
    report_of,
    sidecar_fingerprint,
)

if TYPE_CHECKING:
    from etl_tasks.core.stage import StageTask

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1
NO_RUN_PREFIX = "no run due: "  # how etl_tasks.report records a pipeline's no-run reason
PACKAGE = Path(__file__).resolve().parent.parent
# Environment keys besides the pipelines' own .env keys that change what a run of a date does.
WATCHED_ENV = ("LUIGI_CONFIG_PATH", "LUIGI_CONFIG_PARSER", "ETL_ENV_FILE", "ETL_TODAY")


class _UnknownError(Exception):
    """The manifest cannot answer (e.g. a no-run reason it did not record)."""


def manifest_path(date: dt.date, pipelines: Sequence[str], scope: Sequence[str] | None) -> Path:
    """``reports/date=D/.noop-<selection>.json``: one manifest per pipelines-and-scope selection
    (``etl-run --pipeline all`` and ``orquestrador-btg`` keep their own)."""
    selection = json.dumps([list(pipelines), sorted(scope) if scope is not None else None])
    return report_dir(date) / f".noop-{hashlib.sha256(selection.encode()).hexdigest()[:16]}.json"


@functools.cache
def _code_digest() -> str:
    """Name, size and mtime of every file of the package: another version is another graph."""
    digest = hashlib.sha256()
    for folder, subfolders, files in os.walk(PACKAGE):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            stat = os.stat(os.path.join(folder, name))
            digest.update(f"{folder}/{name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def inputs_key(
    date: dt.date,
    pipelines: Sequence[str],
    scope: Sequence[str] | None,
    env: Mapping[str, str],
) -> str:
    """Digest of what the task graph of one run of ``date`` is made from (see the module doc);
    secrets enter it only hashed."""
    load_env()
    names = sorted({*known_keys(), *WATCHED_ENV, *(warehouse_key(p) for p in registry.names())})
    document = {
        "version": MANIFEST_VERSION,
        "date": date.isoformat(),
        "pipelines": list(pipelines),
        "scope": sorted(scope) if scope is not None else None,
        "cwd": os.getcwd(),
        "config": luigi_cfg.files_digest(),
        "env": {name: os.environ.get(name) for name in names},
        "run_env": dict(sorted(env.items())),
        "code": _code_digest(),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def directory_files(directory: Path) -> dict[str, list[int]] | None:
    """``{name: [inode, size, mtime_ns]}`` of a partition directory (None when absent); temporary
    files (hidden) are left out."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return None
    files = {}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        stat = entry.stat(follow_symlinks=True)
        files[entry.name] = [stat.st_ino, stat.st_size, stat.st_mtime_ns]
    return files


def _reasons(state: RunReport) -> dict[str, str | None]:
    """The no-run reason of each pipeline that had a task with nothing on disk (None: it runs)."""
    reasons: dict[str, str | None] = {}
    for record in state.tasks:
        if record.skip_reason and record.skip_reason.startswith(NO_RUN_PREFIX):
            reasons[record.pipeline] = record.skip_reason[len(NO_RUN_PREFIX) :]
        elif record.status == PENDING:
            reasons.setdefault(record.pipeline, None)
    return reasons


def write_manifest(
    date: dt.date,
    pipelines: Sequence[str],
    scope: Sequence[str] | None,
    env: Mapping[str, str],
    state: RunReport,
    date_tasks: Sequence[StageTask],
    scope_tasks: Sequence[StageTask],
) -> Path | None:
    """Record what the full no-op check saw (``state`` of ``date_tasks``, every one of
    ``scope_tasks`` complete); called by the driver only after that check said "complete".
    Nothing is written (None) while Luigi's configuration holds values set in memory."""
    if not luigi_cfg.memory_matches_files():
        return None
    import luigi.task

    from etl_tasks.core.stage import StageTask
    from etl_tasks.warehouse.tasks import SchemaTask, WarehouseMarkerTarget

    directories = {str(task.partition().directory) for task in date_tasks}
    warehouse: list[dict[str, Any]] = []
    for task in scope_tasks:
        upstream = luigi.task.flatten(task.requires())
        directories.update(
            str(dep.partition().directory) for dep in upstream if isinstance(dep, StageTask)
        )
        if isinstance(task, SchemaTask):
            warehouse.append({"pipeline": task.pipeline, "tables": [t.name for t in task.tables]})
            continue
        target = task.output()
        if isinstance(target, WarehouseMarkerTarget):
            directories.add(str(target.source.directory))
            warehouse.append(
                {
                    "pipeline": task.pipeline,
                    "table": target.table,
                    "partition": target.partition,
                    "sha256": target.source.meta().sha256,
                }
            )
    document = {
        "version": MANIFEST_VERSION,
        "key": inputs_key(date, pipelines, scope, env),
        "tasks": [
            {
                "family": t.task_family,
                "pipeline": t.pipeline,
                "stage": t.stage,
                "entity": t.entity,
                "dir": str(t.partition().directory),
            }
            for t in date_tasks
        ],
        "reasons": _reasons(state),
        "files": {directory: directory_files(Path(directory)) for directory in sorted(directories)},
        "warehouse": warehouse,
    }
    path = manifest_path(date, pipelines, scope)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    temp.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
    os.replace(temp, path)
    return path


def _warehouse_holds(checks: Iterable[Mapping[str, Any]]) -> bool:
    """Every table and load marker the manifest recorded is in its warehouse now (one read per
    URL); False when one is missing or differs, or a warehouse cannot be read."""
    from etl_tasks.warehouse.peek import AUDIT_TABLE, peek

    by_url: dict[str, list[Mapping[str, Any]]] = {}
    for check in checks:
        by_url.setdefault(warehouse_url(str(check["pipeline"])), []).append(check)
    for url, wanted in by_url.items():
        try:
            seen = peek(url, [str(c["partition"]) for c in wanted if "partition" in c])
        except Exception as error:  # any doubt means "run the full check"
            logger.debug("no-op check: the warehouse could not be read: %s", type(error).__name__)
            return False
        for check in wanted:
            if "tables" in check:
                if any(name not in seen.tables for name in [AUDIT_TABLE, *check["tables"]]):
                    return False
            elif (
                check.get("sha256") is None
                or seen.markers.get((str(check["table"]), str(check["partition"])))
                != check["sha256"]
            ):
                return False
    return True


def quick_noop_state(
    date: dt.date,
    pipelines: Sequence[str],
    scope: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> RunReport | None:
    """The date's state when its manifest proves the run a no-op (see the module doc); None when
    it cannot: the caller runs the full check (which reports any error itself)."""
    if options:
        return None  # a pipeline option (a lookback) asks tasks outside the date's own
    if not luigi_cfg.memory_matches_files():
        return None  # values set in memory are in no digest: the full check answers
    try:
        return _answer(date, pipelines, scope, env or {})
    except (_UnknownError, EtlError, OSError, KeyError, TypeError, ValueError) as error:
        # A torn file, a file gone between two looks, an unreadable setting: not known complete.
        logger.debug("no-op manifest of %s not used: %s: %s", date, type(error).__name__, error)
        return None


def _answer(
    date: dt.date, pipelines: Sequence[str], scope: Sequence[str] | None, env: Mapping[str, str]
) -> RunReport | None:
    manifest = read_json(manifest_path(date, pipelines, scope))
    if not manifest or manifest.get("version") != MANIFEST_VERSION:
        return None
    if manifest.get("key") != inputs_key(date, pipelines, scope, env):
        return None
    written = read_report(date)
    if not written:
        return None
    for directory, files in (manifest.get("files") or {}).items():
        if directory_files(Path(directory)) != files:
            return None
    reasons: dict[str, str | None] = manifest.get("reasons") or {}

    def reason(pipeline: str) -> str | None:
        if pipeline not in reasons:
            raise _UnknownError(pipeline)
        return reasons[pipeline]

    records = [
        partition_task_record(
            t["pipeline"],
            t["stage"],
            t["entity"],
            t["family"],
            read_partition(Path(t["dir"])),
            functools.partial(reason, t["pipeline"]),
        )
        for t in manifest["tasks"]
    ]
    state = report_of(date, registry.names(), records)
    if written.get("fingerprint") != sidecar_fingerprint(state.tasks):
        return None
    if state.only(pipelines, scope).status not in COMPLETE_STATUSES:
        return None
    if not _warehouse_holds(manifest.get("warehouse") or []):
        return None
    state.last_run = written.get("last_run")  # what is printed is what is on disk
    return state
