"""BTG schema and load tasks: typed Parquet → warehouse (MySQL in production), one transaction each.

    luigi --module etl_tasks BtgLoadPosicoes --date 2025-04-10 --local-scheduler

Each load replaces its table's partition of the date (delete the date's rows, bulk-load the
Parquet, write the ``etl_load_audit`` marker, commit), so a rerun replaces and never doubles. The
warehouse is ``BTG_WAREHOUSE_URL`` (else ``WAREHOUSE_URL``). Positions load after the fund
headers of the same date. While ``[btg] cross_check`` is on (the default), every load also waits
for the cross-check gate of its own report (``transform_tasks.BtgCrossCheck``):
carteira and rentabilidade that disagree load nothing at all, while a report whose counterpart
failed or is missing loads on its own checks (the gate records the cross-check as not run).
"""

from __future__ import annotations

import luigi

from etl_tasks.btg.tables import BTG_TABLES
from etl_tasks.btg.transform_tasks import (
    BtgTransformFundos,
    BtgTransformPosicoes,
    BtgTransformRentabilidade,
    cross_check_enabled,
    gate_for,
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
    side: str = "carteira"

    # A task parameter, not a change of global configuration: orquestrador-btg --tipo carteira
    # builds its loads with False (one report has nothing to be compared with in that run).
    # Insignificant, so the task ids (and luigid's view) are those of a plain run.
    cross_check = luigi.OptionalBoolParameter(
        default=None,
        significant=False,
        description="wait for the cross-check gate (default: [btg] cross_check)",
    )

    def checks_across(self) -> bool:
        """Whether this load waits for its cross-check gate."""
        return cross_check_enabled() if self.cross_check is None else bool(self.cross_check)

    def requires(self) -> dict[str, luigi.Task]:
        needed = super().requires()
        for upstream in self.upstream_loads:  # the same cross-check choice all the way up
            needed[upstream.entity] = upstream(date=self.date, cross_check=self.cross_check)
        return needed

    def extra_requirements(self) -> dict[str, luigi.Task]:
        """Carteira and rentabilidade must agree (when both are there) before either loads."""
        if not self.checks_across():
            return {}
        return {"crosscheck": gate_for(self.side)(date=self.date)}


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
    side = "rentabilidade"
    transform_class = BtgTransformRentabilidade
