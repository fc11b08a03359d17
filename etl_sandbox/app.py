"""The sandbox application: mounts the APIs, applies injected faults, dispatches, counts.

Transport-free (no sockets here): :meth:`SandboxApp.handle` takes a method, a raw request target,
headers and a body and returns a :class:`Response`, or ``None`` when an injected fault says to drop
the connection. ``server.py`` wraps it in an HTTP server; ``control.py`` serves ``/_sandbox/*``.

Every request that reaches an API is counted in :class:`Stats` under three keys:
``"<api>:<METHOD> <path>"`` (requests), ``"<api>:<METHOD> <path>#<status>"`` (responses by status)
and ``"status:<status>"``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from etl_sandbox.faults import DROP_CONNECTION, FaultRegistry
from etl_sandbox.framework import (
    Clock,
    Request,
    Response,
    SandboxApi,
    SandboxContext,
    Stats,
    json_response,
)

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox"
_REQUEST_KEY = re.compile(r"^(?P<api>[\w-]+):(?P<method>[A-Z]+) (?P<path>/\S*)$")
_RESPONSE_KEY = re.compile(r"^(?P<request>[\w-]+:[A-Z]+ /\S*)#(?P<status>\d+)$")


def request_key(api: str, method: str, path: str) -> str:
    """Stats key counting requests to one API path."""
    return f"{api}:{method} {path}"


class SandboxApp:
    """All mounted APIs plus the shared context, fault registry and start-up settings."""

    def __init__(self, apis: list[SandboxApi], seed: int, settings: Mapping[str, str],
                 base_url: str = "http://127.0.0.1:8765",
                 mount_errors: Mapping[str, str] | None = None) -> None:
        names = [api.name for api in apis]
        if len(set(names)) != len(names):
            raise ValueError(f"two sandbox APIs share a name: {names}")
        self.apis = apis
        self.startup_seed = seed
        self.startup_settings = dict(settings)
        self.mount_errors = dict(mount_errors or {})
        self.faults = FaultRegistry()
        self.ctx = SandboxContext(
            clock=Clock(), stats=Stats(), seed=seed, base_url=base_url,
            settings=dict(settings),
        )
        # Control operations (reset, config) rebuild API state; one at a time keeps them atomic.
        self.control_lock = threading.Lock()
        for api in apis:
            api.reset(self.ctx)

    def api_named(self, name: str) -> SandboxApi | None:
        """The mounted API called ``name``."""
        return next((api for api in self.apis if api.name == name), None)

    def reset(self, seed: int | None = None) -> None:
        """Regenerate every API from ``seed``; clear faults, stats, tokens; real-time clock;
        settings back to their start-up values (so one test's knobs never leak into the next)."""
        with self.control_lock:
            self.ctx.seed = self.startup_seed if seed is None else seed
            self.ctx.settings.clear()
            self.ctx.settings.update(self.startup_settings)
            self.ctx.clock.reset()
            self.ctx.stats.clear()
            self.faults.clear()
            for api in self.apis:
                api.reset(self.ctx)

    def configure(self, updates: Mapping[str, str | None]) -> dict[str, str]:
        """Apply setting changes (None removes a key) and tell the APIs; on a ValueError from an
        API the previous settings are restored and the error propagates."""
        with self.control_lock:
            before = dict(self.ctx.settings)
            for key, value in updates.items():
                if value is None:
                    self.ctx.settings.pop(key, None)
                else:
                    self.ctx.settings[key] = value
            changed = set(updates)
            try:
                for api in self.apis:
                    api.configure(self.ctx, changed)
            except ValueError:
                self.ctx.settings.clear()
                self.ctx.settings.update(before)
                for api in self.apis:
                    api.configure(self.ctx, changed)
                raise
            return dict(self.ctx.settings)

    def handle(self, method: str, target: str, headers: Mapping[str, str],
               body: bytes) -> Response | None:
        """Answer one request to an API (not the control surface); None = drop the connection."""
        parts = urlsplit(target)
        path = parts.path or "/"
        api, sub_path = self._route(path)
        if api is None:
            self.ctx.stats.incr(f"status:{404}")
            return json_response(404, {
                "error": "Not Found", "status": 404,
                "message": f"no sandbox API is mounted at {path}; mounted prefixes: "
                           f"{', '.join(a.prefix for a in self.apis)}",
            })
        key = request_key(api.name, method, sub_path)
        self.ctx.stats.incr(key)
        rule = self.faults.take(api.name, method, sub_path)
        if rule is not None and rule.status == DROP_CONNECTION:
            self.ctx.stats.incr(f"{key}#0")
            return None
        if rule is not None:
            response = rule.override_response() or api.fault_response(rule.status, self.ctx)
            response.headers.update(rule.headers)
        else:
            request = Request(
                method=method, path=sub_path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=headers, body=body,
            )
            response = self._call(api, request)
        self.ctx.stats.incr(f"{key}#{response.status}")
        self.ctx.stats.incr(f"status:{response.status}")
        return response

    def _route(self, path: str) -> tuple[SandboxApi | None, str]:
        for api in self.apis:
            if path == api.prefix or path.startswith(api.prefix + "/"):
                return api, path[len(api.prefix):] or "/"
        return None, path

    def _call(self, api: SandboxApi, request: Request) -> Response:
        try:
            return api.handle(request, self.ctx)
        except Exception:  # a sandbox bug must answer 500, not kill the thread
            log.exception("sandbox %s failed on %s %s", api.name, request.method, request.path)
            return json_response(500, {
                "error": "Internal Server Error", "status": 500,
                "message": "the sandbox raised an exception; see its log",
            })

    def stats_report(self) -> dict[str, Any]:
        """The ``GET /_sandbox/stats`` document."""
        requests: dict[str, int] = {}
        responses: dict[str, dict[str, int]] = {}
        statuses: dict[str, int] = {}
        counters: dict[str, int] = {}
        for key, value in sorted(self.ctx.stats.snapshot().items()):
            if key.startswith("status:"):
                statuses[key.removeprefix("status:")] = value
            elif match := _RESPONSE_KEY.match(key):
                responses.setdefault(match["request"], {})[match["status"]] = value
            elif _REQUEST_KEY.match(key):
                requests[key] = value
            else:
                counters[key] = value
        report: dict[str, Any] = {
            "seed": self.ctx.seed,
            "clock": self.ctx.clock.now().isoformat().replace("+00:00", "Z"),
            "total_requests": sum(requests.values()),
            "requests": requests,
            "responses": responses,
            "statuses": statuses,
            "counters": counters,
            "faults_pending": self.faults.pending(),
            "mount_errors": self.mount_errors,
        }
        tokens: dict[str, int] = {}
        for api in self.apis:
            api_stats = api.stats()
            report[api.name] = api_stats
            tokens[api.name] = int(api_stats.get("tokens_issued",
                                                 counters.get(f"{api.name}:tokens_issued", 0)))
        report["tokens_issued"] = tokens
        return report
