"""The BTG pipeline's task graph for one date, as RunAll, the report and orquestrador-btg see it.

    luigi --module etl_tasks BtgLoadRentabilidade --date 2025-04-10 --local-scheduler
    orquestrador-btg --tipo carteira --data 2025-04-10

The two reports ("tipos") are independent chains; the cross-check gates
(:class:`BtgCrossCheckCarteira`, :class:`BtgCrossCheckRentabilidade`) compare them when both are
there (``[btg] cross_check``): a failure of one report never blocks the other, a disagreement
blocks both.
"""

from __future__ import annotations

import datetime as dt

import luigi

from etl_tasks.btg.extract import BtgExtractCarteira, BtgExtractRentabilidade
from etl_tasks.btg.load import (
    BtgLoad,
    BtgLoadFundos,
    BtgLoadPosicoes,
    BtgLoadRentabilidade,
    BtgSchema,
)
from etl_tasks.btg.transform_tasks import (
    CROSS_CHECKS,
    BtgCrossCheckCarteira,
    BtgCrossCheckRentabilidade,
    BtgTransformFundos,
    BtgTransformPosicoes,
    BtgTransformRentabilidade,
    cross_check_enabled,
)
from etl_tasks.core.stage import StageTask

TIPOS: dict[str, tuple[type[StageTask], ...]] = {
    "carteira": (BtgExtractCarteira, BtgTransformFundos, BtgTransformPosicoes, BtgLoadFundos,
                 BtgLoadPosicoes),
    "rentabilidade": (BtgExtractRentabilidade, BtgTransformRentabilidade, BtgLoadRentabilidade),
}
EXTRACTS = (BtgExtractCarteira, BtgExtractRentabilidade)
TRANSFORMS = (BtgTransformFundos, BtgTransformPosicoes, BtgTransformRentabilidade)
LOADS = (BtgLoadFundos, BtgLoadPosicoes, BtgLoadRentabilidade)


def tipo_names(tipo: str) -> list[str]:
    """``"ambos"`` → both reports, else the one named (``carteira`` | ``rentabilidade``)."""
    if tipo == "ambos":
        return list(TIPOS)
    if tipo not in TIPOS:
        raise ValueError(f"tipo must be carteira, rentabilidade or ambos, got {tipo!r}")
    return [tipo]


def tipo_stage_tasks(tipo: str, date: dt.date) -> list[StageTask]:
    """Every stage of the given tipo(s) for ``date``: their extracts, transforms and loads, the
    schema check, and the cross-check when both reports run and it is enabled."""
    names = tipo_names(tipo)
    both = len(names) == len(TIPOS)
    tasks: list[StageTask] = [
        # One report alone has nothing to be compared with: its loads skip the gate.
        cls(date=date, cross_check=False) if issubclass(cls, BtgLoad) and not both
        else cls(date=date)
        for name in names
        for cls in TIPOS[name]
    ]
    tasks.append(BtgSchema(date=date))
    if both and cross_check_enabled():
        tasks.extend(gate(date=date) for gate in CROSS_CHECKS)
    return tasks


def tipo_loads(tipo: str, date: dt.date) -> list[luigi.Task]:
    """The loads of the given tipo(s) for ``date``: what a run must finish."""
    return [task for task in tipo_stage_tasks(tipo, date) if task.stage == "load"]


def stage_tasks(date: dt.date) -> list[StageTask]:
    """Every extract, transform, check, schema check and load of ``date``."""
    return tipo_stage_tasks("ambos", date)


def final_tasks(date: dt.date) -> list[luigi.Task]:
    """What RunAll needs finished for ``date``: every load."""
    return tipo_loads("ambos", date)


__all__ = [cls.__name__ for cls in (*EXTRACTS, *TRANSFORMS, BtgCrossCheckCarteira,
                                    BtgCrossCheckRentabilidade, *LOADS, BtgSchema)]
assert len(CROSS_CHECKS) == 2
