"""Writer of ANBIMA "XML de posição de ativos" 4.01 documents for the BTG sandbox.

A :class:`PortfolioDocument` is the header and the sections of one ``<fundo>`` as ordered
``(element, value)`` pairs; :func:`render_portfolio` prints it as UTF-8 XML with the layout's
value formats (api-contract.md B4.1): decimals with ``.`` and no thousands separator, printed
from the Decimal's own digits (never through float), dates ``YYYYMMDD``, text XML-escaped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

ROOT_TAG = "arquivoposicao_4_01"


@dataclass(frozen=True)
class PortfolioDocument:
    """One fund's position file: header fields and sections, each an ordered list of pairs."""

    header: list[tuple[str, object]]
    sections: list[tuple[str, list[tuple[str, object]]]]

    def with_header_value(self, name: str, value: object) -> PortfolioDocument:
        """A copy with one header field replaced (the sandbox uses it to break an invariant)."""
        header = [(key, value if key == name else old) for key, old in self.header]
        return PortfolioDocument(header=header, sections=self.sections)


def format_value(value: object) -> str:
    """The layout's text for a value: Decimal digits as is, ``YYYYMMDD`` dates, escaped text."""
    if isinstance(value, bool):
        return "S" if value else "N"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return escape(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} into ANBIMA XML")


def _fields(pairs: list[tuple[str, object]]) -> str:
    return "".join(
        f"<{name}/>" if value is None else f"<{name}>{format_value(value)}</{name}>"
        for name, value in pairs
    )


def render_portfolio(document: PortfolioDocument) -> bytes:
    """The document as UTF-8 bytes, one element per line per section (diff-friendly)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<{ROOT_TAG}>",
        "  <fundo>",
        f"    <header>{_fields(document.header)}</header>",
        *(f"    <{section}>{_fields(pairs)}</{section}>" for section, pairs in document.sections),
        "  </fundo>",
        f"</{ROOT_TAG}>",
        "",
    ]
    return "\n".join(lines).encode("utf-8")
