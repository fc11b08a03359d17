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

import luigi

from etl_tasks.btg.tables import BTG_TABLES
from etl_tasks.btg.transform_tasks import (
    BtgCrossCheck,
    BtgTransformFundos,
    BtgTransformPosicoes,
    BtgTransformRentabilidade,
    cross_check_enabled,
)
from etl_tasks.warehouse.tasks import LoadTask, SchemaTask


class BtgSchema(SchemaTask):
    """Create btg_fundos, btg_posicoes, btg_rentabilidade and the audit table (idempotent)."""

    pipeline = "btg"
    tables = BTG_TABLES


class BtgLoad(LoadTask):
    """Load one BTG table's partition of the date."""

    pipeline = "btg"
    schema_class = BtgSchema

    def extra_requirements(self) -> dict[str, luigi.Task]:
        """Carteira and rentabilidade must agree before either is loaded."""
        return {"crosscheck": BtgCrossCheck(date=self.date)} if cross_check_enabled() else {}


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
