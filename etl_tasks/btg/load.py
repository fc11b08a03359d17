"""BTG schema and load tasks: typed Parquet → warehouse (MySQL in production), one transaction each.

    luigi --module etl_tasks BtgLoadPosicoes --date 2025-04-10 --local-scheduler

Each load replaces its table's partition of the date (delete the date's rows, bulk-load the
Parquet, write the ``etl_load_audit`` marker, commit), so a rerun replaces and never doubles. The
warehouse is ``BTG_WAREHOUSE_URL`` (else ``WAREHOUSE_URL``). Positions load after the fund
headers of the same date. While ``[btg] cross_check`` is on (the default), every load also waits
for :class:`~etl_tasks.btg.transform_tasks.BtgCrossCheck`, so carteira and rentabilidade that
disagree load nothing at all.
"""

from __future__ import annotations

from typing import ClassVar

import luigi

from etl_tasks.btg.tables import BTG_TABLES, TABLES_BY_NAME
from etl_tasks.btg.transform_tasks import (
    BtgCrossCheck,
    BtgTransform,
    BtgTransformFundos,
    BtgTransformPosicoes,
    BtgTransformRentabilidade,
    cross_check_enabled,
)
from etl_tasks.warehouse.base import TableSpec
from etl_tasks.warehouse.tasks import LoadTask, SchemaTask


class BtgSchema(SchemaTask):
    """Create btg_fundos, btg_posicoes, btg_rentabilidade and the audit table (idempotent)."""

    pipeline = "btg"
    tables = BTG_TABLES


class BtgLoad(LoadTask):
    """Load one BTG table's partition of the date."""

    pipeline = "btg"
    transform_class: ClassVar[type[BtgTransform]]
    upstream_loads: ClassVar[tuple[type[LoadTask], ...]] = ()

    @property
    def table(self) -> TableSpec:  # type: ignore[override]
        return TABLES_BY_NAME[self.transform_class.table_name]

    def requires(self) -> dict[str, luigi.Task]:
        needed: dict[str, luigi.Task] = {
            "transform": self.transform_class(date=self.date),
            "schema": BtgSchema(date=self.date),
        }
        if cross_check_enabled():
            needed["crosscheck"] = BtgCrossCheck(date=self.date)
        for upstream in self.upstream_loads:
            needed[upstream.entity] = upstream(date=self.date)
        return needed


class BtgLoadFundos(BtgLoad):
    """Replace the date's fund headers in btg_fundos."""

    entity = "fundos"
    transform_class = BtgTransformFundos


class BtgLoadPosicoes(BtgLoad):
    """Replace the date's positions in btg_posicoes (after btg_fundos)."""

    entity = "posicoes"
    transform_class = BtgTransformPosicoes
    upstream_loads = (BtgLoadFundos,)


class BtgLoadRentabilidade(BtgLoad):
    """Replace the date's returns in btg_rentabilidade."""

    entity = "rentabilidade"
    transform_class = BtgTransformRentabilidade
