"""One exception tree for etl_tasks.

Every error the tool raises on purpose derives from :class:`EtlError`, so entry points can tell a
known failure (clear message, non-zero exit) from a bug (traceback). Messages say what is wrong and
how to fix it, and never contain a secret.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base of every error etl_tasks raises on purpose."""


class ConfigError(EtlError):
    """Missing or invalid configuration: a .env key, a luigi.cfg value, a bad date or path."""


class SourceMismatchError(ConfigError):
    """A complete partition was made from another API base URL than the configured one."""


class ExtractError(EtlError):
    """An API call failed in a way the extract stage cannot recover from."""


class RetriableExtractError(ExtractError):
    """A transient API failure (5xx, 429, timeout, connection reset); retried with backoff."""


class FatalExtractError(ExtractError):
    """A permanent API failure (4xx other than 429, malformed page, repeated 401)."""


class AuthError(FatalExtractError):
    """Credentials were rejected by the API (bad client id/secret, a second 401 after refresh)."""


class DataQualityError(EtlError):
    """Data violates an invariant (referential integrity, ANBIMA totals); blocks the load."""


class LoadError(EtlError):
    """The warehouse refused or lost a partition load; the transaction was rolled back."""
