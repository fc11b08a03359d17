"""Re-fetch one BTG report of one date after BTG fixed its source: the fix path of a failure.

    orquestrador-btg --data 2025-04-10 --baixar-novamente carteira

A data-quality failure on landed data (corrupt XML, a broken ANBIMA invariant, a cross-check
mismatch) cannot be cured by a plain rerun: the bad file is landed and its extract counts as done.
:func:`forget_landed` removes the stage partitions of that report's chain for the date — the
cross-check gate, the transforms, then the extract (dependents first, so an interrupted removal
never leaves a complete-looking task above a removed one) — so the run that follows asks BTG
again. Loads need no removal: a load is done only while its marker holds the current transform's
sha256, so new data reloads and identical data is left alone. The raw files of the failed attempt
stay on disk: the new extract moves them to ``anteriores/<stamp>/`` (:mod:`.landing`).

Every failure message of a landed report ends with :func:`.hints.refetch_hint` — the one
command to run — so the error, the alert and the report all carry it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from etl_tasks.btg.hints import OPTION, refetch_command, refetch_hint
from etl_tasks.btg.state import has_anything
from etl_tasks.btg.transform_tasks import SIDES, gate_for
from etl_tasks.core.stage import StageTask

logger = logging.getLogger(__name__)
__all__ = ["OPTION", "RefetchUsageError", "chain", "forget_landed", "forget_under_lock",
           "refetch_command", "refetch_hint", "refetch_tipos"]

class RefetchUsageError(ValueError):
    """``--baixar-novamente`` names a report this run does not process."""


def refetch_tipos(refetch: str, run_tipos: Iterable[str]) -> list[str]:
    """The reports to re-fetch (``ambos`` = both); each must be among the run's tipos."""
    tipos = list(SIDES) if refetch == "ambos" else [refetch]
    outside = [tipo for tipo in tipos if tipo not in set(run_tipos)]
    if outside or refetch not in (*SIDES, "ambos"):
        raise RefetchUsageError(
            f"{OPTION} {refetch}: this run processes only {', '.join(run_tipos)}; drop --tipo "
            "(both reports run, the re-fetched one is cross-checked) or name a report it runs"
        )
    return tipos


def chain(tipo: str, date: dt.date) -> list[StageTask]:
    """The stages to forget for ``tipo`` on ``date``, dependents first."""
    tasks: list[StageTask] = [gate_for(tipo)(date=date)]
    tasks += [cls(date=date) for cls in reversed(SIDES[tipo])]
    return tasks


def forget_under_lock(tipos: Iterable[str], date: dt.date) -> list[str]:
    """:func:`forget_landed` while holding the BTG run lock of ``date`` (a run of that date in
    progress raises :class:`~etl_tasks.ops.lock.AlreadyRunningError` and nothing is removed)."""
    from etl_tasks.ops.lock import run_locks

    with run_locks(["btg"], [date]):
        return forget_landed(tipos, date)


def forget_landed(tipos: Iterable[str], date: dt.date) -> list[str]:
    """Remove the partitions of the tipos' chains on ``date``; returns the task families whose
    partitions existed."""
    removed = []
    for tipo in tipos:
        for task in chain(tipo, date):
            if has_anything(task):
                removed.append(task.task_family)
            task.partition().remove()
    logger.info("re-fetch of %s on %s: forgot %s", ", ".join(tipos), date,
                ", ".join(removed) or "nothing (not fetched yet)")
    return removed
