"""Run-time knobs of the BTG sandbox API (``SANDBOX_BTG_*``), parsed and validated in one place.

They are read from ``ctx.settings`` at every request, so ``POST /_sandbox/config`` changes them
live; an invalid value is refused when it is set (ValueError -> the control call answers 400).

* ``SANDBOX_BTG_PROCESSING_POLLS`` (1): polls answered "processing" before a ticket is ready.
* ``SANDBOX_BTG_PROCESSING_SECONDS`` (0): simulated seconds after the request before it is.
* ``SANDBOX_BTG_PENDING_STATUS`` (200): 200 = JSON ``Processando``/``Aguardando
  processamento``; 202, 204 or 404 = that status with an empty body while pending.
* ``SANDBOX_BTG_FILE_MODE`` (inline): file bytes in the poll answer, or ``url`` = a JSON
  ``UrlDownload`` link to ``/btg/_downloads/<id>.<ext>``.
* ``SANDBOX_BTG_RPM`` (0): requests per simulated minute before 429 + Retry-After (0 = off).
* ``SANDBOX_BTG_PAGE_AS_STRING`` (false): NAVPerformance ``page`` as a JSON string.
* ``SANDBOX_BTG_REALISTIC_NUMBERS`` (auto): NAVPerformance numbers as a .NET service writes
  doubles (:mod:`etl_sandbox.btg_numbers`): ``on``, ``off``, or ``auto`` = on for business days
  with an odd day of the month (2025-04-11 yes, 2025-04-10 no); ``page`` is then a string on
  every third start date.
* ``SANDBOX_BTG_ADDED_FIELDS`` (false): NAVPerformance as a newer API version: every record
  gains ``benchmarkName`` and every page ``generatedAt`` (schema drift the client must name).
* ``SANDBOX_BTG_ZIP_BOMB_MB`` (0): when > 0, the carteira ZIP is a zip bomb: 4 members of that
  many MiB of zeros each (under 1 MiB compressed for 200), as a hostile or broken server might.
* ``SANDBOX_BTG_CORRUPT_FUND`` (""): CNPJs (comma-separated) whose XML is served truncated.
* ``SANDBOX_BTG_BREAK_INVARIANT`` (""): CNPJs whose XML header ``patliq`` is 0.01 too high.
* ``SANDBOX_BTG_OMIT_FROM_CARTEIRA`` (""): CNPJs missing from the carteira ZIP while their
  rentabilidade is served (``*`` = every fund: the carteira answers "No records").
"""

from __future__ import annotations

from dataclasses import dataclass

from etl_sandbox.framework import SandboxContext

PENDING_STATUSES = (200, 202, 204, 404)
FILE_MODES = ("inline", "url")
REALISTIC_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class BtgSettings:
    """The BTG knobs of one request."""

    processing_polls: int
    processing_seconds: float
    pending_status: int
    file_mode: str
    rpm: int
    page_as_string: bool
    corrupt_funds: frozenset[str]
    break_invariant_funds: frozenset[str]
    realistic_numbers: str = "auto"
    omit_from_carteira: frozenset[str] = frozenset()
    added_fields: bool = False
    zip_bomb_mb: int = 0

    @classmethod
    def from_context(cls, ctx: SandboxContext) -> BtgSettings:
        """Parse the knobs; ValueError names the bad key and value."""
        pending = ctx.int_setting("btg_pending_status", 200)
        if pending not in PENDING_STATUSES:
            raise ValueError(f"setting SANDBOX_BTG_PENDING_STATUS={pending} must be one of "
                             f"{', '.join(map(str, PENDING_STATUSES))}")
        mode = ctx.setting("btg_file_mode", "inline").strip().lower()
        if mode not in FILE_MODES:
            raise ValueError(f"setting SANDBOX_BTG_FILE_MODE={mode!r} must be inline or url")
        realistic = ctx.setting("btg_realistic_numbers", "auto").strip().lower()
        if realistic in ("true", "1", "yes"):
            realistic = "on"
        if realistic in ("false", "0", "no"):
            realistic = "off"
        if realistic not in REALISTIC_MODES:
            raise ValueError(f"setting SANDBOX_BTG_REALISTIC_NUMBERS={realistic!r} must be auto, "
                             "on or off")
        seconds = ctx.float_setting("btg_processing_seconds", 0.0)
        if seconds < 0:
            raise ValueError(f"setting SANDBOX_BTG_PROCESSING_SECONDS={seconds} is negative")
        return cls(
            processing_polls=ctx.int_setting("btg_processing_polls", 1, minimum=0),
            processing_seconds=seconds,
            pending_status=pending,
            file_mode=mode,
            rpm=ctx.int_setting("btg_rpm", 0, minimum=0),
            page_as_string=_flag(ctx.setting("btg_page_as_string", "false"), "PAGE_AS_STRING"),
            corrupt_funds=_cnpjs(ctx.setting("btg_corrupt_fund", "")),
            break_invariant_funds=_cnpjs(ctx.setting("btg_break_invariant", "")),
            realistic_numbers=realistic,
            omit_from_carteira=_cnpjs_or_all(ctx.setting("btg_omit_from_carteira", "")),
            added_fields=_flag(ctx.setting("btg_added_fields", "false"), "ADDED_FIELDS"),
            zip_bomb_mb=ctx.int_setting("btg_zip_bomb_mb", 0, minimum=0),
        )


def _flag(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"setting SANDBOX_BTG_{name}={text!r} must be true or false")


def _cnpjs_or_all(text: str) -> frozenset[str]:
    """Like :func:`_cnpjs`; ``*`` stands for every fund."""
    return frozenset({"*"}) if text.strip() == "*" else _cnpjs(text)


def _cnpjs(text: str) -> frozenset[str]:
    """Comma/space separated CNPJs, punctuation ignored (``45.112.233/0001-14`` works)."""
    parts = text.replace(";", ",").replace(" ", ",").split(",")
    return frozenset("".join(ch for ch in part if ch.isdigit()) for part in parts if part.strip())
