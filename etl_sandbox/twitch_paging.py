"""Helix cursor pagination as the sandbox implements it (api-contract.md A2).

A cursor is URL-safe base64 (no padding) of ``{"o": offset, "l": limit, "q": fingerprint}``: ``o``
is the position just after the page that produced it, ``l`` that page's size and ``q`` an 8-hex
fingerprint of the request's filters. ``after=<cursor>`` continues at ``o``; ``before=<cursor>``
returns the page before the one that produced it. A cursor that does not decode, or that was made
for other filters, is a 400. Offsets index a list that may change between requests (live streams),
so duplicates and gaps across pages are expected, as on the real API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

PAGING_KEYS = frozenset({"first", "after", "before"})
INVALID_CURSOR = "The cursor in the after or before query parameter is not valid"


class InvalidCursorError(ValueError):
    """The after/before cursor is malformed or belongs to another filter set."""


def fingerprint(query: dict[str, list[str]], ignore: frozenset[str] = PAGING_KEYS) -> str:
    """8 hex digits identifying the filter set (key order and value order do not matter)."""
    canonical = sorted((key, sorted(values)) for key, values in query.items() if key not in ignore)
    digest = hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:8]


def encode_cursor(offset: int, limit: int, filters: str) -> str:
    """The cursor text for position ``offset`` after a page of ``limit``."""
    raw = json.dumps({"o": offset, "l": limit, "q": filters}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, filters: str) -> tuple[int, int]:
    """``(offset, limit)`` of a cursor made for ``filters``; InvalidCursorError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw.decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursorError(INVALID_CURSOR) from error
    if not isinstance(payload, dict):
        raise InvalidCursorError(INVALID_CURSOR)
    offset, limit, query = payload.get("o"), payload.get("l"), payload.get("q")
    if (not _natural(offset) or not _natural(limit) or limit < 1 or query != filters):
        raise InvalidCursorError(INVALID_CURSOR)
    return offset, limit


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class PageWindow:
    """Which slice of the full list a request gets, and the cursor to hand back."""

    start: int
    stop: int
    cursor: str | None

    def pagination(self) -> dict[str, str]:
        """The envelope's ``pagination`` object: ``{}`` at the end of the list."""
        return {"cursor": self.cursor} if self.cursor else {}


def page_window(total: int, first: int, after: str | None, before: str | None,
                filters: str, dangling: bool = False) -> PageWindow:
    """Slice ``[start, stop)`` of a list of ``total`` items for this request."""
    if after is not None:
        start, _ = decode_cursor(after, filters)
    elif before is not None:
        end_of_page, limit = decode_cursor(before, filters)
        start = max(0, end_of_page - limit - first)
        total = min(total, max(0, end_of_page - limit))
    else:
        start = 0
    stop = min(start + first, total)
    if stop <= start:
        return PageWindow(start, start, None)
    more = stop < total or before is not None or dangling
    cursor = encode_cursor(stop, first, filters) if more else None
    return PageWindow(start, stop, cursor)
