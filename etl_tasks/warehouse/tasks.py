"""Template tasks for the warehouse side of a pipeline: create the schema, load a partition.

Like ``luigi.contrib.postgres.CopyToTable``, ``run()`` is written once here; a pipeline's load task
only names its table, its transform and its upstream loads. A load is complete when the audit table
says its partition holds the current transform file (same sha256), so a re-transformed partition is
reloaded and a deleted marker makes the partition load again (replacing, never doubling rows).
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

import luigi

from etl_tasks.config import redact_url, warehouse_url
from etl_tasks.core.stage import StageTask, clear_failure, record_failure, utc_now
from etl_tasks.core.targets import PartitionTarget, sweep_temp_files
from etl_tasks.errors import SourceMismatchError
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.interface import LoadMarker
from etl_tasks.warehouse.migrate import apply_changes, plan_changes
from etl_tasks.warehouse.model import TableSpec

logger = logging.getLogger(__name__)


class WarehouseMarkerTarget(luigi.Target):
    """Exists when ``etl_load_audit`` holds (table, partition) with the source file's sha256."""

    def __init__(self, url: str, table: str, partition: str, source: PartitionTarget) -> None:
        self.url, self.table, self.partition, self.source = url, table, partition, source

    def exists(self) -> bool:
        if not self.source.exists():
            return False
        sha256 = self.source.meta().sha256 or ""
        with connect(self.url) as warehouse:
            return warehouse.is_loaded(self.table, self.partition, sha256)

    def __repr__(self) -> str:
        return (
            f"WarehouseMarkerTarget({redact_url(self.url)!r}, {self.table!r}, {self.partition!r})"
        )


class SchemaTask(StageTask):
    """Create a pipeline's tables and migrate existing ones to their declaration (idempotent);
    complete when every table exists with the declared column types (:mod:`.migrate`).

    Dated like the stages (one cheap check per date) so that a warehouse that is down or refuses
    the DDL is recorded in that date's report like any other failed stage. Lossless changes
    (wider decimals, dropped NOT NULL, new nullable columns) are applied here, never in a load;
    others stop the task with the exact SQL to run."""

    stage = "schema"
    entity = "tables"
    tables: ClassVar[tuple[TableSpec, ...]] = ()

    def complete(self) -> bool:
        """Luigi does not pass complete() errors to event handlers: record them here."""
        try:
            with connect(warehouse_url(self.pipeline)) as warehouse:
                done = not warehouse.missing_tables(self.tables) and not plan_changes(
                    warehouse, self.tables)
        except Exception as error:
            record_failure(self, error)
            raise
        if done:
            clear_failure(self)  # an outage recorded by an earlier check is over
        return done

    def run(self) -> None:
        started_at, started_clock = utc_now(), time.perf_counter()
        url = warehouse_url(self.pipeline)
        logger.info("creating %s tables in %s", self.pipeline, redact_url(url))
        with connect(url) as warehouse:
            warehouse.ensure_schema(self.tables)
            migrated = apply_changes(warehouse, self.tables)
        described = [change.describe() for change in migrated]
        self.write_sidecar(started_at, started_clock, tables=[t.name for t in self.tables],
                           extra={"migrated": described,
                                  "notes": [f"schema migrated: {line}" for line in described]})


class LoadTask(StageTask):
    """Load one transformed partition into its warehouse table in one transaction.

    A subclass names ``transform_class`` (a task with a ``table_name``), the pipeline's
    ``schema_class`` and the loads that must finish first (dimensions before facts)."""

    stage = "load"
    transform_class: ClassVar[type[StageTask]]
    schema_class: ClassVar[type[SchemaTask]]
    upstream_loads: ClassVar[tuple[type[LoadTask], ...]] = ()

    @property
    def table(self) -> TableSpec:
        """The table this load writes (the transform's ``table_name`` among the schema's)."""
        by_name = {spec.name: spec for spec in self.schema_class.tables}
        return by_name[self.transform_class.table_name]

    def requires(self) -> dict[str, luigi.Task]:
        needed: dict[str, luigi.Task] = {
            "transform": self.transform_class(date=self.date),
            "schema": self.schema_class(date=self.date),
            **self.extra_requirements(),
        }
        for upstream in self.upstream_loads:
            needed[upstream.entity] = upstream(date=self.date)
        return needed

    def extra_requirements(self) -> dict[str, luigi.Task]:
        """More upstream tasks a pipeline needs before loading (e.g. a data-quality gate)."""
        return {}

    def source(self) -> PartitionTarget:
        """The transform partition this load reads; subclasses may override."""
        return self.requires()["transform"].output()

    def complete(self) -> bool:
        """Luigi reports an exception in complete() without passing it to any event handler, so
        record it here: a warehouse that is down must show up in the report with its message."""
        try:
            return super().complete()
        except SourceMismatchError:
            raise  # already recorded
        except Exception as error:
            record_failure(self, error)
            raise

    def output(self) -> WarehouseMarkerTarget:
        return WarehouseMarkerTarget(
            warehouse_url(self.pipeline), self.table.name, self.date.isoformat(), self.source()
        )

    def run(self) -> None:
        record = self.partition()
        sweep_temp_files(record.directory)
        started_at, started_clock = utc_now(), time.perf_counter()
        source = self.source()
        source_meta = source.meta()
        self.progress(f"loading {source_meta.rows} rows into {self.table.name}", 0)
        marker = LoadMarker(
            task_id=self.task_id,
            table=self.table.name,
            partition=self.date.isoformat(),
            sha256=source_meta.sha256 or "",
            rows=source_meta.rows,
        )
        with connect(warehouse_url(self.pipeline)) as warehouse:
            loaded = warehouse.load_partition(self.table, source.data_path, self.date, marker)
        self.write_sidecar(
            started_at,
            started_clock,
            status=source_meta.status,
            skip_reason=source_meta.skip_reason,
            rows=loaded,
            table=self.table.name,
            sha256=source_meta.sha256,
            mode=self.table.mode,
        )
        self.progress(f"done: {loaded} rows in {self.table.name}", 100)
