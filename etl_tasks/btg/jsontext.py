"""Exact JSON for money: numbers with a fraction become :class:`~decimal.Decimal`, never float.

    body = loads(response.content)      # {"liquidQuote": Decimal("1.52345678"), "page": 1, ...}
    text = dumps(body)                  # '{"liquidQuote":1.52345678,"page":1,...}' (same digits)

:func:`response_json` decodes an API response this way, or raises FatalExtractError with a short,
redacted excerpt of what came back instead (:func:`excerpt`).

``json.loads`` turns ``1.52345678`` into a binary float; a NAV of ``100008843.78`` then prints
back as ``100008843.78000001`` somewhere downstream. Parsing with ``parse_float=Decimal`` keeps the
digits the API sent, and :func:`dumps` writes them back unchanged (the standard encoder cannot
emit a Decimal as a bare number). ``NaN``/``Infinity`` are not JSON and are refused.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from etl_tasks.core.http_response import HttpResponse
from etl_tasks.core.redact import redact
from etl_tasks.errors import FatalExtractError


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(data: bytes | str) -> Any:
    """Parse JSON with every non-integer number as Decimal; ValueError on invalid JSON."""
    return json.loads(data, parse_float=Decimal, parse_constant=_refuse_constant)


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``; Decimals are written with exactly their own digits."""
    if value is None or isinstance(value, bool | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise FatalExtractError(f"cannot write the non-finite number {value} as JSON")
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise TypeError("floats are never written by the BTG pipeline; parse with loads()")
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(key), ensure_ascii=False)}:{dumps(item)}"
            for key, item in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def excerpt(content: bytes, limit: int = 200) -> str:
    """The start of a body for an error message: whitespace collapsed, secrets redacted."""
    text = " ".join(content[:limit].decode("utf-8", errors="replace").split())
    return repr(redact(text))


def response_json(response: HttpResponse, where: str) -> Any:
    """The exact JSON body of ``response``; FatalExtractError naming ``where`` if not JSON."""
    try:
        return loads(response.content)
    except (ValueError, UnicodeDecodeError) as error:
        raise FatalExtractError(
            f"BTG {where} answered HTTP {response.status_code} with a body that is not JSON "
            f"({error}): {excerpt(response.content)}. Check that BTG_BASE_URL points at the API."
        ) from error
