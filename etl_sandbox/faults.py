"""Injected faults: "the next N requests to this path fail with this status".

Tests register a rule through ``POST /_sandbox/faults``; the server consults :class:`FaultRegistry`
before dispatching a request to its API, so a fault hits even a request that would have failed
authentication. Status 0 means "close the connection without answering" (a dropped socket).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from etl_sandbox.framework import JSON_CONTENT_TYPE, Response

ANY_PATH = "*"
DROP_CONNECTION = 0


class FaultRuleError(ValueError):
    """A fault rule posted to the control surface is malformed (message says which field)."""


@dataclass
class FaultRule:
    """One pending fault: matches api + path (+ method) and fires ``remaining`` more times."""

    api: str
    path: str
    status: int
    remaining: int
    method: str | None = None
    body: Any = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, api: str, method: str, path: str) -> bool:
        """True when this rule applies to a request (path is the one after the API prefix)."""
        return (
            self.api == api
            and self.path in (ANY_PATH, path)
            and (self.method is None or self.method == method)
        )

    def override_response(self) -> Response | None:
        """The response forced by ``body``/``headers`` overrides, or None to use the API's shape."""
        if self.body is None:
            return None
        if isinstance(self.body, str):
            payload = self.body.encode("utf-8")
            content_type = self.content_type or "text/plain; charset=utf-8"
        else:
            payload = json.dumps(self.body, ensure_ascii=False).encode("utf-8")
            content_type = self.content_type or JSON_CONTENT_TYPE
        return Response(self.status, payload, {"Content-Type": content_type, **self.headers})

    def describe(self) -> dict[str, Any]:
        """JSON-friendly view for the control surface."""
        return {
            "api": self.api,
            "path": self.path,
            "method": self.method,
            "status": self.status,
            "remaining": self.remaining,
            "body_override": self.body is not None,
        }


def parse_rule(payload: Any, api_names: set[str]) -> FaultRule:
    """Validate a ``POST /_sandbox/faults`` body into a rule; FaultRuleError says what is wrong."""
    if not isinstance(payload, dict):
        raise FaultRuleError('body must be a JSON object like {"api": "twitch", '
                             '"path": "/helix/streams", "status": 503, "count": 1}')
    api = payload.get("api")
    if api not in api_names:
        raise FaultRuleError(f"api must be one of {sorted(api_names)}, got {api!r}")
    path = payload.get("path")
    if not isinstance(path, str) or not (path == ANY_PATH or path.startswith("/")):
        raise FaultRuleError(f'path must be the path after the API prefix ("/helix/streams") or '
                             f'"*", got {path!r}')
    status = payload.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not (
        status == DROP_CONNECTION or 100 <= status <= 599
    ):
        raise FaultRuleError(
            f"status must be an HTTP status (100-599) or 0 to drop, got {status!r}")
    count = payload.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise FaultRuleError(f"count must be a positive integer, got {count!r}")
    method = payload.get("method")
    if method is not None and (not isinstance(method, str) or not method.isalpha()):
        raise FaultRuleError(f"method must be an HTTP method name like GET, got {method!r}")
    headers = payload.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in headers.items()
    ):
        raise FaultRuleError("headers must be an object of string to string")
    content_type = payload.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        raise FaultRuleError("content_type must be a string")
    return FaultRule(
        api=api,
        path=path,
        status=status,
        remaining=count,
        method=method.upper() if method else None,
        body=payload.get("body"),
        content_type=content_type,
        headers=headers,
    )


class FaultRegistry:
    """Thread-safe queue of fault rules; the oldest matching rule fires first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        """Append a rule."""
        with self._lock:
            self._rules.append(rule)

    def take(self, api: str, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request (its count is consumed), or None."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(api, method, path):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def pending(self) -> list[dict[str, Any]]:
        """Rules that still have fires left."""
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def clear(self) -> int:
        """Drop every rule; returns how many were pending."""
        with self._lock:
            count = len(self._rules)
            self._rules.clear()
            return count
