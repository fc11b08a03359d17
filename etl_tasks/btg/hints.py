"""The one command that fixes a failure on landed BTG data, as every such error message ends.

    refetch_hint("carteira", date(2025, 4, 10))
    # "After BTG fixes the report, re-fetch it with: orquestrador-btg --data 2025-04-10
    #  --baixar-novamente carteira (...)"

The command runs both reports of the date (``--tipo ambos``, the default), so the re-fetched one
is cross-checked against the other; only the named report is asked of BTG again.

Kept free of imports so the transforms, the gates and :mod:`.refetch` can all use it.
"""

from __future__ import annotations

import datetime as dt

OPTION = "--baixar-novamente"


def refetch_command(tipo: str, date: dt.date) -> str:
    """``orquestrador-btg --data <date> --baixar-novamente <tipo>``."""
    return f"orquestrador-btg --data {date.isoformat()} {OPTION} {tipo}"


def refetch_hint(tipo: str, date: dt.date) -> str:
    """The sentence every landed-data failure ends with."""
    return (f"After BTG fixes the report, re-fetch it with: {refetch_command(tipo, date)} "
            "(the failed attempt's raw files are kept under anteriores/).")
