"""Cursor pagination for ``{"data": [...], "pagination": {"cursor": "..."}}`` list APIs.

Loop rule (Twitch Helix guide): keep going while ``pagination.cursor`` is a non-empty string; stop
when it is empty or missing, and also on a page with no data, because lists are live views and a
cursor can lead to an empty page. Two guards turn a misbehaving API into a clear error instead of a
run that never ends or silently loads garbage: a cursor seen twice, and a page of the wrong shape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from etl_tasks.core.http_response import HttpResponse
from etl_tasks.core.ratelimit import server_time
from etl_tasks.errors import FatalExtractError

FetchPage = Callable[[str | None], tuple[Any, HttpResponse]]


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint."""

    number: int  # 1-based
    data: list[dict[str, Any]]
    cursor: str | None  # cursor to the next page (None at the end)
    response: HttpResponse

    @property
    def server_time(self) -> dt.datetime | None:
        """The server's clock when it answered this page (``Date`` header)."""
        return server_time(self.response.headers)


def check_envelope(body: Any, endpoint: str, page_number: int = 1) -> list[dict[str, Any]]:
    """The ``data`` list of a response body, or FatalExtractError if the envelope is malformed."""

    def malformed(problem: str) -> FatalExtractError:
        return FatalExtractError(
            f"malformed API page from {endpoint} (page {page_number}): {problem}. The API or a "
            "proxy in between answered something that is not the documented envelope; check the "
            "base URL configuration and rerun later."
        )

    if not isinstance(body, dict):
        raise malformed(f"expected a JSON object, got {type(body).__name__}")
    data = body.get("data")
    if not isinstance(data, list):
        raise malformed(f"'data' must be a list, got {type(data).__name__}")
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise malformed(f"data[{index}] must be an object, got {type(item).__name__}")
    return data


def next_cursor(body: dict[str, Any], endpoint: str, page_number: int) -> str | None:
    """``pagination.cursor`` when it is a non-empty string, else None; odd types are errors."""
    pagination = body.get("pagination")
    if pagination is None:
        return None
    if not isinstance(pagination, dict):
        raise FatalExtractError(
            f"malformed API page from {endpoint} (page {page_number}): 'pagination' must be an "
            f"object, got {type(pagination).__name__}. Check the base URL configuration."
        )
    cursor = pagination.get("cursor")
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str):
        raise FatalExtractError(
            f"malformed API page from {endpoint} (page {page_number}): 'pagination.cursor' must "
            f"be a string, got {type(cursor).__name__}. Check the base URL configuration."
        )
    return cursor


class CursorPaginator:
    """Iterates the pages of one list query, following ``pagination.cursor``.

    ``fetch(cursor)`` performs one request (``cursor`` is None for the first page) and returns the
    decoded JSON body and the response. Every fetched page is yielded, including a final empty one,
    so callers can still read its headers (e.g. the capture time).
    """

    def __init__(self, fetch: FetchPage, endpoint: str, max_pages: int | None = None) -> None:
        if max_pages is not None and max_pages < 1:
            raise ValueError("max_pages must be >= 1 or None")
        self.fetch = fetch
        self.endpoint = endpoint
        self.max_pages = max_pages
        self.pages_fetched = 0

    def __iter__(self) -> Iterator[Page]:
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            body, response = self.fetch(cursor)
            self.pages_fetched += 1
            number = self.pages_fetched
            data = check_envelope(body, self.endpoint, number)
            following = next_cursor(body, self.endpoint, number)
            yield Page(number, data, following, response)
            if following is None or not data:
                return
            if self.max_pages is not None and number >= self.max_pages:
                return
            if following in seen:
                raise FatalExtractError(
                    f"API returned the same cursor twice for {self.endpoint} (page {number}); "
                    "stopping to avoid an endless loop. This is an API-side bug; rerun later, and "
                    "report it if it persists."
                )
            seen.add(following)
            cursor = following
