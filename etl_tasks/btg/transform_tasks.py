"""BTG transform and check tasks: extract Parquet → typed, checked Parquet per warehouse table.

    luigi --module etl_tasks BtgTransformPosicoes --date 2025-04-10 --local-scheduler

Thin Luigi wrappers around the pure functions of :mod:`etl_tasks.btg.transform`:

* :class:`BtgTransformFundos` parses every fund file, runs the ANBIMA invariants on all of them
  (a violation is a DataQualityError naming fund, date and difference) and writes the headers.
  It is the gate of the carteira: :class:`BtgTransformPosicoes` requires it, so positions of a file
  that does not add up are never written either.
* :class:`BtgTransformRentabilidade` types the NAVPerformance records (percent → fraction here).
* :class:`BtgCrossCheckCarteira` / :class:`BtgCrossCheckRentabilidade` — one cross-check gate
  per report type — compare the two reports of the date (the same funds in both; ``valorcota =
  liquidQuote``, ``patliq = assetValue``, ``quantidade = numberOfQuotes``, with the tolerance of
  :func:`etl_tasks.btg.transform.values_agree`). While ``[btg] cross_check`` is on, each report's
  loads require its own gate; both gates compare the same data, so a disagreement blocks every
  load of the date. A gate is complete only while the transforms it compared are unchanged (their
  sha256 is in its sidecar), so re-extracting one report re-runs the comparison.

The two report types are independent: a gate requires only its own report's transforms; the
other report is a soft input (a failed rentabilidade must not block the carteira). Extracts and
transforms have a higher Luigi priority, so the scheduler runs every one it can before a gate,
which then compares what is there. When the other report is missing or failed the gate is
recorded as not run (``skip_reason`` says which report and why) and its own report's loads go
ahead. With ``--workers`` > 1 a gate also waits while a task of the other report is still running
(:func:`etl_tasks.btg.running.side_running`) or about to start (:func:`side_pending`).

A landed-data DataQualityError of a transform or gate ends with the command that re-fetches the
report (:mod:`etl_tasks.btg.hints`).

A skipped (non-business) date stays skipped downstream; "No records" gives empty partitions.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
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
from etl_tasks.btg.hints import refetch_hint
from etl_tasks.btg.running import chain_running, side_running
from etl_tasks.btg.settings import btg as btg_settings
from etl_tasks.btg.state import failure_at, failure_line, sidecar, sidecar_value
from etl_tasks.core.stage import StageOutput, StageTask
from etl_tasks.errors import DataQualityError

# Extracts and transforms first: the cross-check (priority 0) then sees both reports settled.
CHAIN_PRIORITY = 10


@contextlib.contextmanager
def with_refetch_hint(tipo: str, date: Any) -> Iterator[None]:
    """A DataQualityError on landed data ends with the command that re-fetches it."""
    try:
        yield
    except DataQualityError as error:
        raise DataQualityError(f"{error} {refetch_hint(tipo, date)}") from error


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
    tipo: ClassVar[str] = "carteira"
    priority = CHAIN_PRIORITY

    def run(self) -> None:
        with chain_running(self.task_family, self.date), with_refetch_hint(self.tipo, self.date):
            super().run()


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
    tipo = "rentabilidade"

    def requires(self) -> dict[str, StageTask]:
        return {"extract": BtgExtractRentabilidade(date=self.date)}

    def produce(self) -> StageOutput:
        extract = self.requires()["extract"]
        table, meta = btg_transform.rentabilidade_table(_read(extract), self.date)
        meta.update(_carried_extra(extract))
        return StageOutput(table.schema, [table], extra=meta, skip_reason=is_skipped(extract))


SIDES = {"carteira": (BtgExtractCarteira, BtgTransformFundos, BtgTransformPosicoes),
         "rentabilidade": (BtgExtractRentabilidade, BtgTransformRentabilidade)}


def side_pending(name: str, date: Any) -> bool:
    """True when the side's extract is done but its transforms neither finished nor failed since
    (the moment between two tasks of a parallel run)."""
    extract, *transforms = (cls(date=date) for cls in SIDES[name])
    finished = sidecar_value(extract, "finished_at")
    if not finished:
        return False
    for task in transforms:
        if sidecar(task) is not None:
            continue
        failed_since = failure_line(task) and str(failure_at(task)) > str(finished)
        return not failed_since
    return False


def side_state(name: str, date: Any) -> str | None:
    """None when the report ``name`` of ``date`` is ready to compare, else why it is not."""
    chain = [cls(date=date) for cls in SIDES[name]]
    if chain[1].complete():
        return None
    for task in chain:
        failure = failure_line(task)
        if failure:
            return f"{name} of {date.isoformat()} failed ({failure})"
    return f"{name} of {date.isoformat()} is not available (not extracted in this run)"


class BtgCrossCheck(StageTask):
    """Base of the two gates: carteira vs rentabilidade of the date, the same funds in both, each
    with the same quota, net assets and quotas. Each report's loads wait for the gate of their own
    side, which requires that side's transform and compares it with the other side if present;
    when the other side is missing or failed the gate is recorded as not run (skipped, with the
    reason) and the own side loads. Both gates compare the same data, so a mismatch fails both
    and blocks every load of the date."""

    pipeline = "btg"
    stage = "check"
    side: ClassVar[str]
    other: ClassVar[str]
    wait_poll_s: ClassVar[float] = 1.0
    refresh_other: bool = True

    def requires(self) -> dict[str, StageTask]:
        return {"own": self.compared()["fundos" if self.side == "carteira" else "rentabilidade"]}

    def compared(self) -> dict[str, StageTask]:
        """The transforms compared (the other side's is a soft input, not ``requires()``)."""
        return {"fundos": BtgTransformFundos(date=self.date),
                "rentabilidade": BtgTransformRentabilidade(date=self.date)}

    def input_fingerprints(self) -> dict[str, str | None]:
        """sha256 of each compared transform partition (None while it does not exist)."""
        fingerprints: dict[str, str | None] = {}
        for name, task in self.compared().items():
            fingerprints[name] = sidecar_value(task, "sha256")
        return fingerprints

    def complete(self) -> bool:
        """Done when the sidecar was written from the transforms as they are now. A gate that
        found the other side missing stays done while its own side is unchanged: the other
        side's own gate compares both when it arrives."""
        meta = sidecar(self)
        if meta is None:
            return False
        self.check_source()
        recorded = meta.extra.get("inputs") or {}
        current = self.input_fingerprints()
        if meta.skipped and meta.extra.get("not_run"):
            own = "fundos" if self.side == "carteira" else "rentabilidade"
            return recorded.get(own) == current[own]
        return recorded == current

    def _wait_for_other_side(self) -> None:
        """With ``--workers`` > 1 the other report may still be in flight: wait while one of its
        tasks runs, and briefly ([btg] cross_check_grace_s) while its extract has finished and
        its transform has not started yet."""
        settings = btg_settings()
        deadline = time.monotonic() + float(settings.poll_deadline_s)
        grace_until = time.monotonic() + float(settings.cross_check_grace_s)
        while time.monotonic() < deadline:
            if side_running(self.other, self.date):
                grace_until = time.monotonic() + float(settings.cross_check_grace_s)
            elif not (side_pending(self.other, self.date) and time.monotonic() < grace_until):
                return
            self.progress(f"waiting for the {self.other} tasks of {self.date} to finish")
            time.sleep(self.wait_poll_s)

    def run(self) -> None:
        with with_refetch_hint("ambos", self.date):
            super().run()

    def produce(self) -> StageOutput:
        self._wait_for_other_side()
        reason = side_state(self.other, self.date)
        if reason:
            text = f"cross-check not run: {reason}; the {self.side} loads without it"
            return StageOutput(
                btg_transform.CROSS_CHECK_SCHEMA, [], skip_reason=text,
                extra={"inputs": self.input_fingerprints(), "not_run": True, "notes": [text]})
        fundos_task = self.compared()["fundos"]
        table, meta = btg_transform.cross_check_table(
            _read(fundos_task), _read(self.compared()["rentabilidade"]), self.date,
            str(btg_settings().missing_funds))
        meta["inputs"] = self.input_fingerprints()
        if self.refresh_other:
            self._refresh_other_gate()
        return StageOutput(table.schema, [table], extra=meta, skip_reason=is_skipped(fundos_task))

    def stale_skip(self) -> bool:
        """True when this gate recorded "not run" but both reports are there now."""
        meta = sidecar(self)
        if meta is None or not (meta.skipped and meta.extra.get("not_run")):
            return False
        return (meta.extra.get("inputs") or {}) != self.input_fingerprints()

    def _refresh_other_gate(self) -> None:
        """The other report's gate said "not run" while this report was missing; now that both
        compared equal, run it again (its loads are done and Luigi would not look at it), so the
        report does not keep an outdated "not run"."""
        other = gate_for(self.other)(date=self.date)
        if not other.stale_skip():
            return
        other.refresh_other = False  # it must not refresh this gate in turn
        try:
            other.run()
        finally:
            other.refresh_other = True  # Luigi caches task instances


class BtgCrossCheckCarteira(BtgCrossCheck):
    """The carteira's gate: its transforms passed and agree with the rentabilidade (if any)."""

    entity = "crosscheck_carteira"
    side, other = "carteira", "rentabilidade"

    def requires(self) -> dict[str, StageTask]:
        return {"fundos": BtgTransformFundos(date=self.date),
                "posicoes": BtgTransformPosicoes(date=self.date)}


class BtgCrossCheckRentabilidade(BtgCrossCheck):
    """The rentabilidade's gate: its transform passed and agrees with the carteira (if any)."""

    entity = "crosscheck_rentabilidade"
    side, other = "rentabilidade", "carteira"


CROSS_CHECKS = (BtgCrossCheckCarteira, BtgCrossCheckRentabilidade)


def gate_for(side: str) -> type[BtgCrossCheck]:
    """The cross-check gate the loads of ``side`` wait for."""
    return BtgCrossCheckCarteira if side == "carteira" else BtgCrossCheckRentabilidade


def cross_check_enabled() -> bool:
    """``[btg] cross_check``: whether the loads wait for their cross-check gate."""
    return bool(btg_settings().cross_check)
