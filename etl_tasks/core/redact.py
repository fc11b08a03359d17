"""Secret redaction for anything a human may read: log lines, reports, error messages.

A secret is the value of an environment key whose name contains SECRET, PASSWORD or TOKEN, or the
password inside any ``*_URL`` value. Redaction is by value, so a secret echoed back inside an API
error body or a driver exception is masked too.
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import urlsplit

SECRET_KEY_MARKERS = ("SECRET", "PASSWORD", "TOKEN")
MASK = "***"


def secret_values() -> list[str]:
    """Secrets in the current environment, longest first (so overlapping values mask fully)."""
    secrets: set[str] = set()
    for key, value in os.environ.items():
        if not value:
            continue
        upper = key.upper()
        if any(marker in upper for marker in SECRET_KEY_MARKERS) and len(value) >= 4:
            secrets.add(value)
        if upper.endswith("_URL"):
            password = _url_password(value)
            if password and len(password) >= 2:
                secrets.add(password)
    return sorted(secrets, key=len, reverse=True)


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:  # e.g. "Invalid IPv6 URL": still find "user:password@" by hand
        match = re.search(r"://[^/@:]*:([^@/]*)@", url)
        return match.group(1) if match else None


def redact(text: str, extra_secrets: list[str] | None = None) -> str:
    """``text`` with every known secret replaced by ``***``."""
    for secret in [*(extra_secrets or []), *secret_values()]:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Logging filter that renders the message and masks secrets in it (and in tracebacks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
