"""The answer :class:`~etl_tasks.core.http.HttpClient` hands back: status, headers, body read.

A module of its own (no imports from the rest of the package) so pagination, the token cache and
the API clients can name the type without importing the HTTP client.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import Any


class HttpResponse:
    """One HTTP answer, body already read: the part of ``requests.Response`` the clients use.

    ``headers`` is case-insensitive (urllib3's ``HTTPHeaderDict``); ``request_headers`` are the
    headers the request carried (an authenticator reads which token it sent from them); ``url``
    is the URL asked for, query included.
    """

    __slots__ = ("content", "headers", "reason", "request_headers", "status_code", "url")

    def __init__(
        self,
        status_code: int,
        reason: str,
        headers: Mapping[str, str],
        content: bytes,
        url: str,
        request_headers: Mapping[str, str],
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content
        self.url = url
        self.request_headers = request_headers

    def __repr__(self) -> str:
        return f"<HttpResponse [{self.status_code}]>"

    @property
    def text(self) -> str:
        """The body as text: the charset of ``Content-Type``, else UTF-8 (bad bytes replaced;
        the text only ever goes into error messages)."""
        return self.content.decode(self._charset(), errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (UTF-8/16/32 detected as RFC 8259 says); ValueError if not."""
        return json.loads(self.content)

    def _charset(self) -> str:
        content_type = self.headers.get("Content-Type") or ""
        for part in content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip("\"' ")
                try:
                    return codecs.lookup(charset).name
                except LookupError:
                    break
        return "utf-8"
