"""JSON encoding for the BTG sandbox that writes Decimals as exact JSON number tokens.

``json.dumps`` cannot emit a Decimal as a number without going through float, which would turn
``100008843.78`` into whatever float repr says; BTG money must reach clients digit for digit
(api-contract.md 0: "All money/quantities from BTG must be parsed into Decimal"). This encoder
handles the shapes the sandbox produces: dict, list/tuple, str, bool, int, Decimal and None.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


class JsonNumber(str):
    """A number token written verbatim (``0.44200000000000006``, ``1E-05``): how the realistic
    numbers of :mod:`etl_sandbox.btg_numbers` reach the wire exactly as a .NET service writes
    them. The text must be a valid JSON number."""


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``; Decimals appear as their exact digits (``1.52345678``)."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, parts: list[str]) -> None:
    if isinstance(value, JsonNumber):
        parts.append(str(value))
    elif value is None or isinstance(value, (bool, str, int)):
        parts.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"JSON has no token for the Decimal {value}")
        parts.append(format(value, "f"))
    elif isinstance(value, dict):
        parts.append("{")
        for number, (key, item) in enumerate(value.items()):
            if number:
                parts.append(",")
            parts.append(json.dumps(str(key), ensure_ascii=False))
            parts.append(":")
            _encode(item, parts)
        parts.append("}")
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        for number, item in enumerate(value):
            if number:
                parts.append(",")
            _encode(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as sandbox JSON")
