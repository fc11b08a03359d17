"""Local HTTP sandbox that speaks the Twitch Helix and BTG fund-report APIs (docs/api-contract.md).

Run it with ``etl-sandbox --port 8765 --seed 42`` (or ``python -m etl_sandbox.server``).
Every API is a :class:`~etl_sandbox.framework.SandboxApi` mounted under its own path prefix
(``/twitch``, ``/btg``); ``/_sandbox/*`` is the control surface used by tests and demos (reset,
simulated clock, fault injection, token expiry, request statistics, run-time configuration),
documented with examples in ``etl_sandbox/README.md``.

Nothing here is imported by the pipelines: the sandbox only ever talks to clients over loopback
HTTP, exactly like the real services would.
"""
