"""What a BTG report ticket can answer, and how long to wait for it (api-contract.md B3/B4).

* Outcomes of a poll: :class:`NoRecords`, :class:`JsonPage`, :class:`ReportFile` (or
  :class:`Pending`: keep polling); :class:`JsonReport` gathers every page of a JSON report.
* :class:`PollPolicy`: first interval, growth, longest interval, deadline, and the grace period in
  which a "Ticket not found" still means "not visible yet".
* The errors a wait can end in: :class:`TicketTimeoutError` (still processing at the deadline;
  retriable) and :class:`TicketNotFoundError` (the ticket is gone; a rerun requests a new one).
* Reading an answer: file or JSON (:func:`looks_like_file`, content first, as B4 asks), the file
  name of ``Content-Disposition`` reduced to a safe base name, ``page`` sent as int or string.
"""

from __future__ import annotations

import email.message
from dataclasses import dataclass
from typing import Any

from etl_tasks.btg.anbima import sniff_kind
from etl_tasks.errors import ConfigError, FatalExtractError, RetriableExtractError

# Both spellings seen in peer clients (B3); compared case-insensitively.
PROCESSING_RESULTS = frozenset({"processando", "aguardando processamento"})
NO_RECORDS_RESULT = "no records"
TICKET_NOT_FOUND_RESULT = "ticket not found"
ZIP_MAGIC = b"PK\x03\x04"


class TicketTimeoutError(RetriableExtractError):
    """A report ticket was still processing when the polling deadline passed."""


class TicketNotFoundError(FatalExtractError):
    """BTG no longer knows a ticket (expired or never issued); a rerun requests a new one."""


@dataclass(frozen=True)
class PollPolicy:
    """How to wait for a ticket: first interval, growth, longest interval, overall deadline."""

    initial_s: float = 3.0
    factor: float = 1.5
    max_interval_s: float = 30.0
    deadline_s: float = 600.0
    not_found_grace_s: float = 60.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_interval_s <= 0 or self.deadline_s <= 0:
            raise ConfigError(
                "[btg] poll_initial_s, poll_max_interval_s and poll_deadline_s must be > 0; fix "
                "them in luigi.cfg"
            )
        if self.factor < 1:
            raise ConfigError(
                "[btg] poll_factor must be >= 1 (the wait never shrinks); fix luigi.cfg"
            )
        if self.not_found_grace_s < 0:
            raise ConfigError("[btg] not_found_grace_s must be >= 0; fix luigi.cfg")

    @classmethod
    def from_settings(cls, section: Any) -> PollPolicy:
        """A policy from the ``[btg]`` luigi.cfg section."""
        return cls(
            initial_s=float(section.poll_initial_s),
            factor=float(section.poll_factor),
            max_interval_s=float(section.poll_max_interval_s),
            deadline_s=float(section.poll_deadline_s),
            not_found_grace_s=float(section.not_found_grace_s),
        )


@dataclass(frozen=True)
class NoRecords:
    """The ticket answered ``{"result":"No records"}``: BTG has no data for the request."""

    ticket: str


@dataclass(frozen=True)
class JsonPage:
    """One page of a JSON report; ``raw`` is the body exactly as received (for the landing dir)."""

    ticket: str
    number: int
    total_pages: int
    result: list[Any]
    raw: bytes


@dataclass(frozen=True)
class ReportFile:
    """A file report: the bytes as received, its file name and the sniffed kind."""

    ticket: str
    content: bytes
    filename: str
    kind: str  # "zip", "xml", or the file name's extension
    delivery: str  # "inline" or "url"


@dataclass(frozen=True)
class JsonReport:
    """Every page of a JSON report (no pages when BTG answered ``No records``)."""

    ticket: str
    pages: tuple[JsonPage, ...]
    no_records: bool = False


TicketOutcome = NoRecords | JsonPage | ReportFile


@dataclass(frozen=True)
class Pending:
    """The ticket is not ready yet (what it said, for the debug log and the timeout message)."""

    state: str


def content_disposition_filename(value: str | None) -> str | None:
    """The file name of a ``Content-Disposition`` header (RFC 6266/2231), reduced to a safe base
    name, or None."""
    if not value:
        return None
    message = email.message.Message()
    message["Content-Disposition"] = value
    return safe_name(message.get_filename() or "")


def safe_name(name: str) -> str | None:
    """A plain file name: no directories (``../x`` or ``C:\\x`` never escape the landing dir)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip("\x00")
    if base in ("", ".", ".."):
        return None
    return base


def looks_like_file(content: bytes, content_type: str, filename: str | None) -> bool:
    """B4: trust the bytes first (ZIP magic, XML), then the declared type and file name.

    Anything else declared as JSON, or starting like JSON without an attachment name, is a JSON
    ticket answer; the rest (an XLSX or PDF attachment) is a file.
    """
    if content.startswith(ZIP_MAGIC) or sniff_kind(content) == "xml":
        return True
    if "json" in content_type.lower():
        return False
    looks_like_json = content.lstrip()[:1] in (b"{", b"[")
    return bool(filename) or not looks_like_json


def page_number(value: Any, name: str, ticket: str) -> int:
    """``page``/``totalPages`` as an int: BTG sometimes sends them as strings (``"1"``)."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise FatalExtractError(
            f"BTG ticket {ticket} answered {name}={value!r}; expected a positive integer."
        )
    return int(text)


