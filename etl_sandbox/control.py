"""The sandbox control surface, ``/_sandbox/*`` (api-contract.md §0.1). Never used by pipelines.

* ``POST /_sandbox/reset`` ``{"seed": 42}`` (seed optional): regenerate every API; clear faults,
  stats and tokens; clock back to real time; settings back to their start-up values.
* ``GET|POST /_sandbox/clock`` ``{"now": "2025-04-10T15:00:00Z"}`` and/or
  ``{"advance_seconds": 60}``; answers ``{"now", "epoch"}``.
* ``GET|POST|DELETE /_sandbox/faults`` ``{"api", "path", "status", "count"}`` plus optional
  ``"method"``, ``"body"`` (replaces the API's error body), ``"headers"``, ``"content_type"``;
  path ``"*"`` matches every path of the API; status 0 drops the connection; DELETE clears.
* ``POST /_sandbox/tokens/expire``: every token issued by every API becomes invalid.
* ``GET /_sandbox/stats``: request and status counters, tokens issued, per-API statistics.
* ``GET /_sandbox/credentials``: ``{"twitch": {...}, "btg": {...}}``.
* ``GET|POST /_sandbox/config`` ``{"twitch_ratelimit": 10}``: change knobs at run time (keys with
  or without the ``SANDBOX_`` prefix; null removes a key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etl_sandbox.app import CONTROL_PREFIX, SandboxApp
from etl_sandbox.faults import FaultRuleError, parse_rule
from etl_sandbox.framework import (
    BadRequestBody,
    Request,
    Response,
    format_timestamp,
    json_response,
    parse_timestamp,
    setting_key,
)

Handler = Callable[[SandboxApp, Request], Response]


class ControlError(ValueError):
    """A control request is malformed; the message tells the caller what to send instead."""


def _body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        payload = request.json()
    except BadRequestBody as error:
        raise ControlError(str(error)) from error
    if not isinstance(payload, dict):
        raise ControlError("the body must be a JSON object")
    return payload


def _clock_state(app: SandboxApp) -> Response:
    now = app.ctx.clock.now()
    return json_response(200, {"now": format_timestamp(now), "epoch": now.timestamp()})


def reset(app: SandboxApp, request: Request) -> Response:
    """POST /_sandbox/reset."""
    seed = _body(request).get("seed", app.startup_seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ControlError(f'seed must be an integer, e.g. {{"seed": 42}}; got {seed!r}')
    app.reset(seed)
    return json_response(200, {"seed": seed, "now": format_timestamp(app.ctx.clock.now())})


def clock(app: SandboxApp, request: Request) -> Response:
    """GET or POST /_sandbox/clock."""
    if request.method == "GET":
        return _clock_state(app)
    body = _body(request)
    if "now" not in body and "advance_seconds" not in body:
        raise ControlError('send {"now": "2025-04-10T15:00:00Z"} or {"advance_seconds": 60}')
    if "now" in body:
        try:
            app.ctx.clock.set(parse_timestamp(str(body["now"])))
        except ValueError as error:
            raise ControlError(f"now must be an RFC 3339 timestamp: {error}") from error
    if "advance_seconds" in body:
        seconds = body["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ControlError(f"advance_seconds must be a number, got {seconds!r}")
        app.ctx.clock.advance(float(seconds))
    return _clock_state(app)


def faults(app: SandboxApp, request: Request) -> Response:
    """GET, POST or DELETE /_sandbox/faults."""
    if request.method == "DELETE":
        return json_response(200, {"cleared": app.faults.clear(), "faults": []})
    if request.method == "POST":
        try:
            app.faults.add(parse_rule(_body(request), {api.name for api in app.apis}))
        except FaultRuleError as error:
            raise ControlError(str(error)) from error
    return json_response(200, {"faults": app.faults.pending()})


def expire_tokens(app: SandboxApp, request: Request) -> Response:
    """POST /_sandbox/tokens/expire."""
    for api in app.apis:
        api.expire_tokens()
    return json_response(200, {"expired": [api.name for api in app.apis]})


def stats(app: SandboxApp, request: Request) -> Response:
    """GET /_sandbox/stats."""
    return json_response(200, app.stats_report())


def credentials(app: SandboxApp, request: Request) -> Response:
    """GET /_sandbox/credentials."""
    return json_response(200, {api.name: api.credentials() for api in app.apis})


def config(app: SandboxApp, request: Request) -> Response:
    """GET or POST /_sandbox/config."""
    if request.method == "GET":
        return json_response(200, {"settings": dict(app.ctx.settings)})
    updates: dict[str, str | None] = {}
    for name, value in _body(request).items():
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise ControlError(f"setting {name} must be a string, number, boolean or null")
        if isinstance(value, bool):
            value = "true" if value else "false"
        updates[setting_key(name)] = None if value is None else str(value)
    try:
        settings = app.configure(updates)
    except ValueError as error:
        raise ControlError(f"setting rejected, nothing changed: {error}") from error
    return json_response(200, {"settings": settings})


ROUTES: dict[str, tuple[frozenset[str], Handler]] = {
    "/reset": (frozenset({"POST"}), reset),
    "/clock": (frozenset({"GET", "POST"}), clock),
    "/faults": (frozenset({"GET", "POST", "DELETE"}), faults),
    "/tokens/expire": (frozenset({"POST"}), expire_tokens),
    "/stats": (frozenset({"GET"}), stats),
    "/credentials": (frozenset({"GET"}), credentials),
    "/config": (frozenset({"GET", "POST"}), config),
}


def handle_control(app: SandboxApp, request: Request) -> Response:
    """Answer a request whose path starts with ``/_sandbox`` (``request.path`` keeps the prefix)."""
    route = ROUTES.get(request.path.removeprefix(CONTROL_PREFIX))
    if route is None:
        return json_response(404, {"error": f"unknown control endpoint {request.path}",
                                   "endpoints": sorted(CONTROL_PREFIX + p for p in ROUTES)})
    methods, handler = route
    if request.method not in methods:
        return json_response(405, {"error": f"{request.method} not allowed on {request.path}",
                                   "allowed": sorted(methods)},
                             {"Allow": ", ".join(sorted(methods))})
    try:
        return handler(app, request)
    except ControlError as error:
        return json_response(400, {"error": str(error)})
