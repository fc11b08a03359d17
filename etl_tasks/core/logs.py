"""Logging set-up: console plus a dated file under the logs directory, secrets redacted.

``setup_logging("etl")`` writes ``logs/etl_YYYYMMDD.log``; ``setup_logging("orquestrador_btg")``
writes ``logs/orquestrador_btg_YYYYMMDD.log``. Idempotent: calling it twice adds no handler twice,
which matters because Luigi may configure logging before us.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

from etl_tasks.core.redact import RedactingFilter

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_MARK = "_etl_tasks_handler"


def log_file_path(logs_dir: Path, basename: str, day: dt.date | None = None) -> Path:
    """``<logs_dir>/<basename>_YYYYMMDD.log`` for ``day`` (default: today, local time)."""
    day = day or dt.date.today()
    return Path(logs_dir) / f"{basename}_{day:%Y%m%d}.log"


def setup_logging(
    basename: str,
    logs_dir: Path,
    console: bool = True,
    level: int = logging.INFO,
    console_logger: str | None = None,
) -> Path:
    """Attach a redacting file handler (and a console one unless present); return the file.

    The console handler goes on the root logger, or on ``console_logger`` when given (under plain
    ``luigi``, whose own console handler already prints Luigi's lines)."""
    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    path = log_file_path(logs_dir, basename)
    path.parent.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter(LOG_FORMAT)
    redactor = RedactingFilter()
    existing = {getattr(h, _MARK, None) for h in root.handlers}
    if str(path) not in existing:
        file_handler = logging.FileHandler(path, encoding="utf-8")
        file_handler.setFormatter(formatter)
        file_handler.addFilter(redactor)
        setattr(file_handler, _MARK, str(path))
        root.addHandler(file_handler)
    target = logging.getLogger(console_logger) if console_logger else root
    has_console = any(
        isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
        for h in target.handlers
    )
    if console and not has_console:
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setFormatter(formatter)
        console_handler.addFilter(redactor)
        setattr(console_handler, _MARK, "console")
        target.addHandler(console_handler)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redactor)
    return path


def has_file_logging() -> bool:
    """True once an entry point (or an earlier task) attached one of our file handlers."""
    return any(
        isinstance(h, logging.FileHandler) and getattr(h, _MARK, None)
        for h in logging.getLogger().handlers
    )
