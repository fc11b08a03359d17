"""The BTG precision policy: how every number of both reports becomes the DECIMAL it is stored as.

    value = policy.store(Decimal("0.44200000000000006"), RATE, field="ret_day", scale=14)

One place decides, per class of column (README "Precisão dos números"):

* **Exact** — money and quantities (``patliq``, ``valor*``, ``quantidade``, ``valorcota``, position
  values; ``assetValue``, ``numberOfQuotes``, ``acquisitions``, ``redemptions`` of the JSON):
  nothing the source said is dropped.

  - carteira XML (exact decimal text): stored digit for digit; a value with more decimals than
    its column (or more integer digits) is a :class:`DataQualityError` naming fund, date, field
    and value. No rounding ever.
  - rentabilidade JSON (an IEEE double as .NET writes it): the value at the column's scale
    (ROUND_HALF_EVEN) is stored when it is the *same double* as the JSON number — the extra
    digits were the binary artefact (``1234.5699999999999`` → ``1234.57``); when no decimal at
    the column's scale is that double (``100008843.786`` in a cents column) it is the same
    DataQualityError.

* **Rounded** — rates, returns, quotes (``liquidQuote``, ``rawQuote``), indexer variations and
  ratios: the JSON text is read as Decimal (never through float); the binary-float artefact is
  removed with the *shortest decimal that round-trips to the same double* (what ``repr(float)``
  prints: ``3.9699999999999998`` → ``3.97``); percent becomes a fraction (point moved two places,
  exact); then the value is rounded to the column's scale with ROUND_HALF_EVEN. Every value whose
  stored form differs from the JSON text is counted (``rounded_values`` in the transform's
  ``_meta.json``, and a line in its notes, so the report shows it).

Columns are wide enough for what the API sends (api-contract.md B5: quotes carry 10-12 decimals,
a double carries at most 17 significant digits): quotes ``decimal(34,14)``, fractions
``decimal(24,14)`` (a percent with 12 decimals is kept exactly), money ``decimal(20,2)``,
quantities ``decimal(28,8)``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from etl_tasks.errors import DataQualityError

EXACT = "exact"
ROUNDED = "rounded"
_WIDE = Context(prec=80)


def shortest_round_trip(value: Decimal) -> Decimal:
    """The shortest decimal that is the same IEEE double as ``value`` (``repr(float(x))``).

    ``Decimal.__float__`` rounds correctly, and ``repr`` of a float is the shortest text that
    reads back as the same float, so this removes exactly the digits a double cannot carry.
    Exponent forms come back as plain decimals (``1e-05`` → ``0.00001``)."""
    as_float = float(value)
    if not math.isfinite(as_float):
        return value  # beyond a double's range: nothing to remove, the column check decides
    return Decimal(repr(as_float))


def same_double(left: Decimal, right: Decimal) -> bool:
    """True when both decimals read as the same IEEE double."""
    return float(left) == float(right)


def quantum(scale: int) -> Decimal:
    """``Decimal("1e-<scale>")``: the unit of a column's last decimal."""
    return Decimal(1).scaleb(-scale)


def fits(value: Decimal, precision: int, scale: int) -> bool:
    """Whether ``value`` is representable in ``decimal(precision, scale)`` without rounding."""
    try:
        quantized = value.quantize(quantum(scale), rounding=ROUND_HALF_EVEN, context=_WIDE)
    except InvalidOperation:
        return False
    if quantized != value:
        return False
    return len(quantized.as_tuple().digits) <= precision


def to_scale(value: Decimal, scale: int) -> Decimal:
    """``value`` rounded half-even to ``scale`` decimals (wide context: never an overflow)."""
    return value.quantize(quantum(scale), rounding=ROUND_HALF_EVEN, context=_WIDE)


def integer_digits_fit(value: Decimal, precision: int, scale: int) -> bool:
    """Whether the integer part of ``value`` fits the column (``precision - scale`` digits)."""
    return abs(value) < Decimal(10) ** (precision - scale)


@dataclass
class RoundingLog:
    """What the policy did to one table's values: counts per column (for the sidecar)."""

    rounded: Counter[str] = field(default_factory=Counter)
    # exact class: same double, fewer digits
    artefacts: Counter[str] = field(default_factory=Counter)

    @property
    def rounded_total(self) -> int:
        return sum(self.rounded.values())

    @property
    def artefacts_total(self) -> int:
        return sum(self.artefacts.values())

    def extra(self) -> dict[str, object]:
        """Machine-readable counts for the sidecar's ``extra``."""
        return {
            "rounded_values": self.rounded_total,
            "rounded_by_column": dict(sorted(self.rounded.items())),
            "double_artefacts_removed": self.artefacts_total,
            "double_artefacts_by_column": dict(sorted(self.artefacts.items())),
        }

    def notes(self) -> list[str]:
        """Human lines for the report (empty when nothing was changed)."""
        lines = []
        if self.rounded_total:
            columns = ", ".join(f"{name} {count}" for name, count in sorted(self.rounded.items()))
            lines.append(
                f"{self.rounded_total} values rounded to the column scale (rates, returns, "
                f"quotes; ROUND_HALF_EVEN after removing the double artefact): {columns}"
            )
        if self.artefacts_total:
            columns = ", ".join(
                f"{name} {count}" for name, count in sorted(self.artefacts.items())
            )
            lines.append(
                f"{self.artefacts_total} money/quantity values had binary-double digits removed "
                f"(same IEEE double, nothing lost): {columns}"
            )
        return lines


@dataclass(frozen=True)
class Where:
    """Who a value belongs to, for error messages: fund, date and the source's field name."""

    fund: str
    date: str
    source_field: str

    def describe(self) -> str:
        return f"fund {self.fund} on {self.date}, field {self.source_field}"


def exact_from_text(value: Decimal, precision: int, scale: int, where: Where) -> Decimal:
    """An exact decimal text (the XML): stored as is, or DataQualityError; never rounded."""
    if fits(value, precision, scale):
        return value
    raise DataQualityError(
        f"{where.describe()}: value {value} does not fit the column decimal({precision},{scale}) "
        "without rounding, and money/quantities are stored exactly. Check the file with BTG; if "
        "the source is right, widen the column in etl_tasks/btg/tables.py and run the schema "
        "task (it migrates the warehouse)."
    )


def exact_from_double(value: Decimal, precision: int, scale: int, column: str, where: Where,
                      log: RoundingLog) -> Decimal:
    """A JSON number in an exact (money/quantity) column: the value at the column's scale when it
    is the same double as the JSON number, else DataQualityError."""
    if fits(value, precision, scale):
        return value
    stored = to_scale(value, scale)
    if integer_digits_fit(stored, precision, scale) and same_double(stored, value):
        log.artefacts[column] += 1
        return stored
    raise DataQualityError(
        f"{where.describe()}: value {value} needs more digits than the column "
        f"decimal({precision},{scale}) keeps and is not a binary-double artefact of a value that "
        "fits, so storing it would change the amount. Check the report with BTG; if the source is "
        "right, widen the column in etl_tasks/btg/tables.py and run the schema task."
    )


def rounded_from_double(value: Decimal, precision: int, scale: int, column: str, where: Where,
                        log: RoundingLog, *, percent: bool = False) -> Decimal:
    """A JSON rate/return/quote: shortest round-trip decimal, percent → fraction when asked,
    then ROUND_HALF_EVEN to the column's scale; counted when the stored value differs."""
    cleaned = shortest_round_trip(value)
    if percent:
        cleaned, value = cleaned.scaleb(-2), value.scaleb(-2)
    stored = to_scale(cleaned, scale)
    if not integer_digits_fit(stored, precision, scale):
        raise DataQualityError(
            f"{where.describe()}: value {value} has more integer digits than the column "
            f"decimal({precision},{scale}) holds. Check the report with BTG; if the source is "
            "right, widen the column in etl_tasks/btg/tables.py and run the schema task."
        )
    if stored != value:
        log.rounded[column] += 1
    return stored
