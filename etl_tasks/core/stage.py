"""Base task of every stage: timing, row counts, the atomic Parquet target and its sidecar.

A stage subclasses :class:`StageTask`, names its ``pipeline``/``stage``/``entity``, declares
``requires()``, and implements ``produce()`` returning a :class:`StageOutput` (a schema plus an
iterable of Arrow tables or record batches, so large extracts stream to disk in bounded memory).
``run()`` is written once here: it writes ``data.parquet`` then ``_meta.json`` atomically (the
typed :class:`~etl_tasks.core.sidecar.Sidecar`, written only by :meth:`StageTask.write_sidecar`),
and a failure leaves ``_failed.json`` (never a complete-looking partition) for the report to read.
Each sidecar records its ``source`` (the API base URL of the extract it descends from), and a
complete partition whose source is not the configured one raises instead of being reused.

Metadata travels in the sidecar, not in memory, because ``--workers N`` runs tasks in separate
processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import luigi
import pyarrow as pa

from etl_tasks.core.redact import redact
from etl_tasks.core.runtime import RUN_ID_ENV as RUN_ID_ENV  # re-exported for the task side
from etl_tasks.core.runtime import output_root as output_root
from etl_tasks.core.runtime import utc_now as utc_now
from etl_tasks.core.sidecar import DONE, SKIPPED, Failure, Sidecar
from etl_tasks.core.targets import (
    PartitionTarget,
    atomic_parquet_writer,
    atomic_write_json,
    file_sha256,
    partition_dir,
    sweep_temp_files,
)
from etl_tasks.errors import SourceMismatchError
from etl_tasks.luigi_setup import install_luigi
from etl_tasks.valid_dates import DateParameter

install_luigi()  # the packaged defaults and the error boundary before any task exists

logger = logging.getLogger(__name__)

# A long write says how far it got when nothing else was reported for this long; each report is a
# call to the scheduler (an HTTP request with luigid), so not one per batch.
WRITE_PROGRESS_INTERVAL_S = 5.0

# Called after a stage's failure is recorded, in order (Luigi keeps its own handlers in a set, so
# their order is not defined; the report must be written after the failure file).
FAILURE_LISTENERS: list[Callable[[luigi.Task, BaseException], None]] = []
# Called after a stage succeeded (its sidecar is written), in order.
SUCCESS_LISTENERS: list[Callable[[luigi.Task], None]] = []


@dataclass
class StageOutput:
    """What ``produce()`` returns: the data to write and what to record about producing it."""

    schema: pa.Schema
    batches: Iterable[pa.Table | pa.RecordBatch] = ()
    # A dict, or a live counters object with ``as_dict()`` read after the batches are consumed
    # (batches are usually a generator that is still making requests while we write).
    http: Any = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    skip_reason: str | None = None


class StageTask(luigi.Task):
    """One stage of one entity for one date, written as a dated Parquet partition."""

    date = DateParameter(description="partition date (YYYY-MM-DD)")

    pipeline: ClassVar[str] = ""
    stage: ClassVar[str] = ""  # "extract" | "transform" | "load" | "schema" | "report"
    entity: ClassVar[str] = ""

    def partition(self) -> PartitionTarget:
        """The partition directory holding this task's sidecar (and data, for Parquet stages)."""
        directory = partition_dir(output_root(), self.pipeline, self.stage, self.entity, self.date)
        return PartitionTarget(directory)

    def output(self) -> luigi.Target:
        """The dated Parquet partition (complete when its sidecar exists)."""
        return self.partition()

    def produce(self) -> StageOutput:
        """Compute this stage's data; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement produce()")

    def progress(self, message: str, percent: float | None = None) -> None:
        """Report progress to the scheduler (visualiser) and the log."""
        logger.info("%s: %s", self.task_family, message)
        self._progress_at = time.monotonic()
        with contextlib.suppress(Exception):
            self.set_status_message(message)
            if percent is not None:
                self.set_progress_percentage(max(0, min(100, int(percent))))

    def api_source(self) -> str | None:
        """The API base URL this task reads from (extracts override it); None for a task that
        derives its data from its upstream stages."""
        return None

    def expected_source(self) -> str | None:
        """Where this task's data must come from with the current configuration: its own API
        base URL (credentials removed), else the sources its upstream stages expect."""
        return self._expected_source({})

    def _expected_source(self, memo: dict[str, str | None]) -> str | None:
        # Memoised per call: upstream graphs share their extracts (a diamond is walked once).
        if self.task_id not in memo:
            memo[self.task_id] = self._source(lambda task: task._expected_source(memo))
        return memo[self.task_id]

    def recorded_source(self) -> str | None:
        """The source to write in this task's sidecar: its own API base URL, else the sources
        its upstream stages recorded in theirs."""
        return self._source(lambda task: getattr(task.partition().sidecar(), "source", None))

    def _source(self, of_upstream: Callable[[StageTask], str | None]) -> str | None:
        own = self.api_source()
        if own is not None:
            return without_credentials(own)
        found = {
            source
            for task in luigi.task.flatten(self.requires())
            if isinstance(task, StageTask) and (source := of_upstream(task)) is not None
        }
        return ", ".join(sorted(found)) or None

    def complete(self) -> bool:
        """Complete when the target exists and was made from the configured source: a partition
        made against another API base URL is an error naming the invalidate command, never
        silently reused (skipped stages, which hold no data, and sidecars written before sources
        were recorded are accepted). A success also ends the life of an older failure record: it
        described an attempt that a later run or check superseded."""
        if not super().complete():
            return False
        self.check_source()
        clear_failure(self)
        return True

    def source_roots(self) -> list[str]:
        """Families of the tasks that fetch this task's data from an API (the first extracts of
        its chain): invalidating them rebuilds everything downstream, this task included."""
        return sorted(self._api_roots()) or [self.task_family]

    def _api_roots(self) -> set[str]:
        roots = {
            family
            for task in luigi.task.flatten(self.requires())
            if isinstance(task, StageTask)
            for family in task._api_roots()
        }
        if not roots and self.api_source() is not None:
            roots.add(self.task_family)
        return roots

    def source_mismatch(self) -> SourceMismatchError | None:
        """The error to raise when this task's sidecar was made from another source than the
        configured one, else None (reads only: safe for status views)."""
        sidecar = self.partition().sidecar()
        if sidecar is None or sidecar.source is None or sidecar.skipped:
            return None  # unknown source, or nothing was fetched (a skipped stage holds no data)
        expected = self.expected_source()
        if expected is None or sidecar.source == expected:
            return None
        day = self.date.isoformat()
        commands = " and ".join(
            f"etl-invalidate --date {day} --task {family}" for family in self.source_roots()
        )
        return SourceMismatchError(
            f"{self.task_family} of {day} was made from {sidecar.source}, but the configured "
            f"source is {expected}; to rebuild the date from the configured source run "
            f"{commands}, then run the date again"
        )

    def check_source(self) -> None:
        """Record and raise :meth:`source_mismatch` (Luigi passes complete() errors to no event
        handler, so the failure is recorded here for the report)."""
        error = self.source_mismatch()
        if error is not None:
            record_failure(self, error)
            raise error

    def write_sidecar(
        self, started_at: dt.datetime, started_clock: float, **fields: Any
    ) -> Sidecar:
        """Write this task's ``_meta.json`` (the only place a sidecar is written) and clear any
        failure of an earlier attempt. ``fields`` are the stage-specific :class:`Sidecar` fields;
        the source defaults to :meth:`recorded_source`."""
        fields.setdefault("source", self.recorded_source())
        sidecar = Sidecar(
            task_id=self.task_id,
            task_family=self.task_family,
            pipeline=self.pipeline,
            stage=self.stage,
            entity=self.entity,
            date=self.date.isoformat(),
            started_at=started_at.isoformat(),
            finished_at=utc_now().isoformat(),
            duration_s=round(time.perf_counter() - started_clock, 6),
            **fields,
        )
        target = self.partition()
        atomic_write_json(target.meta_path, sidecar.to_json())
        with contextlib.suppress(FileNotFoundError):
            target.failed_path.unlink()
        return sidecar

    def run(self) -> None:
        target = self.partition()
        sweep_temp_files(target.directory)
        started_at, started_clock = utc_now(), time.perf_counter()
        self.progress("started", 0)
        produced = self.produce()
        rows = batches = 0
        with atomic_parquet_writer(target.data_path, produced.schema) as writer:
            for chunk in produced.batches:
                table = chunk if isinstance(chunk, pa.Table) else pa.Table.from_batches([chunk])
                if table.schema != produced.schema:
                    table = table.select(produced.schema.names).cast(produced.schema)
                writer.write_table(table)
                rows += table.num_rows
                batches += 1
                self._write_progress(rows, batches)
        self.write_sidecar(
            started_at,
            started_clock,
            status=SKIPPED if produced.skip_reason else DONE,
            skip_reason=produced.skip_reason,
            rows=rows,
            columns=produced.schema.names,
            bytes=target.data_path.stat().st_size,
            sha256=file_sha256(target.data_path),
            http=produced.http.as_dict() if hasattr(produced.http, "as_dict") else produced.http,
            extra=produced.extra,
        )
        self.progress(
            f"done: {rows} rows"
            + (f" (skipped: {produced.skip_reason})" if produced.skip_reason else ""),
            100,
        )

    def _write_progress(self, rows: int, batches: int) -> None:
        """Say how many rows are written, when nothing was reported for a while (a quiet stage
        looks hung in the visualiser; the producer's own messages are more telling, so they win)."""
        last = getattr(self, "_progress_at", None)
        if last is None or time.monotonic() - last >= WRITE_PROGRESS_INTERVAL_S:
            self.progress(f"writing: {rows} rows in {batches} batches so far")


def failure_record(task: luigi.Task, exception: BaseException) -> Failure:
    """The ``_failed.json`` record: what failed, why, when; secrets redacted."""
    return Failure(
        task_id=task.task_id,
        task_family=task.task_family,
        error_type=type(exception).__name__,
        message=redact(str(exception)),
        traceback_tail=redact("".join(traceback.format_exception(exception)[-3:])),
        failed_at=utc_now().isoformat(),
        run_id=os.environ.get(RUN_ID_ENV),
    )


def without_credentials(url: str) -> str:
    """A URL as a sidecar records it: no user, password, query or trailing slash."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def clear_failure(task: StageTask) -> None:
    """Remove the task's ``_failed.json``: a later success makes it stale."""
    with contextlib.suppress(FileNotFoundError):
        task.partition().failed_path.unlink()


@StageTask.event_handler(luigi.Event.SUCCESS)
def _on_stage_success(task: StageTask) -> None:
    for listener in SUCCESS_LISTENERS:
        try:
            listener(task)
        except Exception:
            logger.exception("success listener %s failed for %s", listener, task.task_id)


@StageTask.event_handler(luigi.Event.FAILURE)
@StageTask.event_handler(luigi.Event.BROKEN_TASK)
def _on_stage_failure(task: StageTask, exception: BaseException) -> None:
    """FAILURE covers run() raising; BROKEN_TASK covers requires()/deps() raising."""
    record_failure(task, exception)


def record_failure(task: StageTask, exception: BaseException) -> None:
    """Leave ``_failed.json`` in the partition so the report can name the failure, then notify
    the listeners (the report writer)."""
    try:
        atomic_write_json(task.partition().failed_path, failure_record(task, exception).to_json())
    except Exception:  # recording must never mask the original failure
        logger.exception("could not record the failure of %s", task.task_id)
    for listener in FAILURE_LISTENERS:
        try:
            listener(task, exception)
        except Exception:
            logger.exception("failure listener %s failed for %s", listener, task.task_id)
