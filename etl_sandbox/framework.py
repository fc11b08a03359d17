"""The small framework every sandbox API is written against.

An API (Twitch, BTG) subclasses :class:`SandboxApi` and turns a :class:`Request` into a
:class:`Response`; the server (``server.py``/``app.py``) owns sockets, prefixes, fault injection
and the control surface. Shared state an API may use lives in :class:`SandboxContext`: the
simulated :class:`Clock`, the request :class:`Stats`, the dataset seed and run-time settings
(``SANDBOX_*`` knobs).

The simulated clock *ticks*: after ``set(when)`` it keeps running at real speed from ``when``, so
``Date`` headers, token lifetimes and rate-limit refills behave like a real server while a demo
pretends to be on 2025-04-10. ``advance(seconds)`` jumps it forward.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class BadRequestBody(ValueError):  # noqa: N818 - name fixed by the shared interface
    """The request body is not what the endpoint needs (invalid JSON, undecodable form)."""


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only view of request headers (repeated headers joined by ", ")."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            if key in self._items:
                value = f"{self._items[key][1]}, {value}"
            self._items[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({[name for name in self]})"


@dataclass
class Request:
    """One HTTP request as an API sees it: ``path`` has the API prefix already stripped."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON; :class:`BadRequestBody` when it is empty or not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BadRequestBody(f"request body is not valid JSON: {error}") from error

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded`` (blank values kept)."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRequestBody(f"form body is not UTF-8: {error}") from error
        return parse_qs(text, keep_blank_values=True)


@dataclass
class Response:
    """What an API answers; the server adds Content-Length, Date and Connection headers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (UTF-8, non-ASCII kept as is, compact separators like the real APIs)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, body, {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})})


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 / ISO 8601 timestamp as an aware UTC datetime (``Z`` accepted; naive = UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def format_timestamp(when: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` and whole seconds, the form Helix uses (2025-04-14T13:05:22Z)."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    """Thread-safe simulated clock that ticks at real speed from wherever it was last set.

    Real time is read from ``time.monotonic`` so a wall-clock adjustment on the host does not make
    the simulated clock jump.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base_epoch = time.time()
        self._base_monotonic = time.monotonic()

    def now(self) -> datetime:
        """Current simulated instant (aware, UTC)."""
        return datetime.fromtimestamp(self.timestamp(), tz=timezone.utc)

    def timestamp(self) -> float:
        """Current simulated instant as Unix epoch seconds."""
        with self._lock:
            return self._base_epoch + (time.monotonic() - self._base_monotonic)

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (naive = UTC); the clock keeps ticking from there."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        with self._lock:
            self._base_epoch = when.timestamp()
            self._base_monotonic = time.monotonic()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, if negative) by ``seconds``."""
        with self._lock:
            self._base_epoch += seconds

    def reset(self) -> None:
        """Back to the default: real time now."""
        with self._lock:
            self._base_epoch = time.time()
            self._base_monotonic = time.monotonic()


class Stats:
    """Thread-safe named counters (requests per path, per status, API-specific events)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}

    def incr(self, key: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``key`` (created at zero)."""
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + amount

    def get(self, key: str) -> int:
        """Current value of one counter (0 if never incremented)."""
        with self._lock:
            return self._counters.get(key, 0)

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter."""
        with self._lock:
            return dict(self._counters)

    def clear(self) -> None:
        """Forget every counter."""
        with self._lock:
            self._counters.clear()


def setting_key(name: str) -> str:
    """Canonical settings key: ``twitch-ratelimit`` -> ``SANDBOX_TWITCH_RATELIMIT``."""
    key = name.strip().upper().replace("-", "_")
    return key if key.startswith("SANDBOX_") else f"SANDBOX_{key}"


@dataclass
class SandboxContext:
    """Shared state handed to every API call."""

    clock: Clock
    stats: Stats
    seed: int
    base_url: str
    settings: dict[str, str]

    def setting(self, name: str, default: str) -> str:
        """A knob by name (``SANDBOX_`` prefix optional); ``default`` when unset or blank."""
        value = self.settings.get(setting_key(name), "")
        return value if value.strip() else default

    def int_setting(self, name: str, default: int, minimum: int | None = None) -> int:
        """An integer knob; a malformed value raises ValueError naming the key and the value."""
        raw = self.setting(name, str(default))
        try:
            value = int(float(raw))
        except ValueError as error:
            raise ValueError(f"setting {setting_key(name)}={raw!r} is not an integer") from error
        if minimum is not None and value < minimum:
            raise ValueError(f"setting {setting_key(name)}={value} is below {minimum}")
        return value

    def float_setting(self, name: str, default: float) -> float:
        """A float knob; a malformed value raises ValueError naming the key and the value."""
        raw = self.setting(name, str(default))
        try:
            return float(raw)
        except ValueError as error:
            raise ValueError(f"setting {setting_key(name)}={raw!r} is not a number") from error


class SandboxApi(ABC):
    """One simulated upstream API, mounted by the server under ``prefix``."""

    name: str
    prefix: str

    @abstractmethod
    def reset(self, ctx: SandboxContext) -> None:
        """(Re)generate all data deterministically from ``ctx.seed``; forget tokens and limits."""

    @abstractmethod
    def handle(self, request: Request, ctx: SandboxContext) -> Response:
        """Answer one request whose ``path`` has the prefix stripped."""

    @abstractmethod
    def fault_response(self, status: int, ctx: SandboxContext) -> Response:
        """The API-faithful error response for an injected fault with ``status``."""

    @abstractmethod
    def expire_tokens(self) -> None:
        """Invalidate every token issued so far (the next call with one gets a 401)."""

    @abstractmethod
    def credentials(self) -> dict[str, str]:
        """The fixed sandbox credentials: ``{"client_id": ..., "client_secret": ...}``."""

    def stats(self) -> dict[str, Any]:
        """API-specific statistics, shown in ``/_sandbox/stats`` under the API name."""
        return {}

    def configure(self, ctx: SandboxContext, changed: set[str]) -> None:  # noqa: B027 - optional hook
        """React to run-time setting changes (``changed`` holds canonical ``SANDBOX_*`` keys)."""
