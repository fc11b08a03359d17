"""BTG transform and check tasks: extract Parquet → typed, checked Parquet per warehouse table.

    luigi --module etl_tasks BtgTransformPosicoes --date 2025-04-10 --local-scheduler

Thin Luigi wrappers around the pure functions of :mod:`etl_tasks.btg.transform`:

* :class:`BtgTransformFundos` parses every fund file, runs the ANBIMA invariants on all of them
  (a violation is a DataQualityError naming fund, date and difference) and writes the headers.
  It is the gate of the carteira: :class:`BtgTransformPosicoes` requires it, so positions of a file
  that does not add up are never written either.
* :class:`BtgTransformRentabilidade` types the NAVPerformance records (percent → fraction here).
* :class:`BtgCrossCheck` compares the two reports of the date (``valorcota = liquidQuote``,
  ``patliq = assetValue``, ``quantidade = numberOfQuotes``). While ``[btg] cross_check`` is on,
  every BTG load requires it, so a disagreement blocks all three loads. It is complete only while
  the transforms it compared are unchanged (their sha256 is in its sidecar), so re-extracting one
  report re-runs the comparison.

A skipped (non-business) date stays skipped downstream; "No records" gives empty partitions.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from etl_tasks.btg import transform as btg_transform
from etl_tasks.btg.extract import (
    BtgExtractCarteira,
    BtgExtractRentabilidade,
    is_skipped,
    upstream_extra,
)
from etl_tasks.btg.settings import btg as btg_settings
from etl_tasks.core.stage import StageOutput, StageTask


def _read(task: StageTask) -> pa.Table:
    return pq.read_table(task.output().data_path)


def _carried_extra(extract: StageTask) -> dict[str, Any]:
    """What the transform's sidecar repeats from its extract (ticket, No records)."""
    extra = upstream_extra(extract)
    return {key: extra[key] for key in ("ticket", "no_records") if key in extra}


class BtgTransform(StageTask):
    """Base of the BTG transforms."""

    pipeline = "btg"
    stage = "transform"
    table_name: ClassVar[str]


class BtgTransformFundos(BtgTransform):
    """Fund headers of the date (btg_fundos), after the ANBIMA invariants of every file passed."""

    entity = "fundos"
    table_name = "btg_fundos"

    def requires(self) -> dict[str, StageTask]:
        return {"extract": BtgExtractCarteira(date=self.date)}

    def produce(self) -> StageOutput:
        extract = self.requires()["extract"]
        files = btg_transform.parse_carteira(_read(extract), self.date)
        checked = btg_transform.check_portfolios(files)
        table, meta = btg_transform.fundos_table(files)
        meta.update(_carried_extra(extract), invariants_checked=checked)
        return StageOutput(table.schema, [table], extra=meta, skip_reason=is_skipped(extract))


class BtgTransformPosicoes(BtgTransform):
    """Positions of every fund of the date (btg_posicoes); runs only after BtgTransformFundos
    accepted the same files."""

    entity = "posicoes"
    table_name = "btg_posicoes"

    def requires(self) -> dict[str, StageTask]:
        return {"extract": BtgExtractCarteira(date=self.date),
                "fundos": BtgTransformFundos(date=self.date)}

    def produce(self) -> StageOutput:
        extract = self.requires()["extract"]
        files = btg_transform.parse_carteira(_read(extract), self.date)
        table, meta = btg_transform.posicoes_table(files)
        meta.update(_carried_extra(extract))
        return StageOutput(table.schema, [table], extra=meta, skip_reason=is_skipped(extract))


class BtgTransformRentabilidade(BtgTransform):
    """Returns of every fund of the date (btg_rentabilidade), percentages as fractions."""

    entity = "rentabilidade"
    table_name = "btg_rentabilidade"

    def requires(self) -> dict[str, StageTask]:
        return {"extract": BtgExtractRentabilidade(date=self.date)}

    def produce(self) -> StageOutput:
        extract = self.requires()["extract"]
        table, meta = btg_transform.rentabilidade_table(_read(extract), self.date)
        meta.update(_carried_extra(extract))
        return StageOutput(table.schema, [table], extra=meta, skip_reason=is_skipped(extract))


class BtgCrossCheck(StageTask):
    """Carteira vs rentabilidade of the date: the same fund must show the same quota, net assets
    and quotas in both reports. Writes the list of funds seen (cnpj, in which report)."""

    pipeline = "btg"
    stage = "check"
    entity = "crosscheck"

    def requires(self) -> dict[str, StageTask]:
        return {"fundos": BtgTransformFundos(date=self.date),
                "rentabilidade": BtgTransformRentabilidade(date=self.date)}

    def input_fingerprints(self) -> dict[str, str | None]:
        """sha256 of each compared transform partition (None while it does not exist)."""
        fingerprints: dict[str, str | None] = {}
        for name, task in self.requires().items():
            target = task.output()
            fingerprints[name] = target.meta().sha256 if target.exists() else None
        return fingerprints

    def complete(self) -> bool:
        """Done when the sidecar exists and was written from the transforms as they are now."""
        target = self.partition()
        if not target.exists():
            return False
        self.check_source()
        recorded = target.meta().extra.get("inputs")
        return recorded == self.input_fingerprints()

    def produce(self) -> StageOutput:
        fundos_task = self.requires()["fundos"]
        fundos = _read(fundos_task)
        rentabilidade = _read(self.requires()["rentabilidade"])
        table, meta = btg_transform.cross_check_table(fundos, rentabilidade, self.date)
        meta["inputs"] = self.input_fingerprints()
        return StageOutput(table.schema, [table], extra=meta, skip_reason=is_skipped(fundos_task))


def cross_check_enabled() -> bool:
    """``[btg] cross_check``: whether the loads wait for :class:`BtgCrossCheck`."""
    return bool(btg_settings().cross_check)
