"""The typed sidecar protocol: what a stage partition says about itself on disk.

Every partition directory holds, next to its data, either

* ``_meta.json`` — a :class:`Sidecar`: the stage finished (done or skipped), with its timing, row
  count, data fingerprint, HTTP counters, ``source`` (where the data came from) and ``extra``
  (stage-specific numbers; ``extra["notes"]`` is a list of human-readable lines the report shows
  under the task), or
* ``_failed.json`` — a :class:`Failure`: the last attempt failed, with the redacted error.

Both may exist (a failure after an earlier success); the newer one wins (:func:`read_partition`).
The stage template (:mod:`etl_tasks.core.stage`) is the only writer; everything else reads through
:func:`read_sidecar` / :func:`read_failure` / :func:`read_partition`, never through raw dicts.
Reading is lenient (unknown keys are ignored, missing ones take their defaults) so sidecars written
by an older version stay readable.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

META_FILE = "_meta.json"
FAILED_FILE = "_failed.json"

DONE, SKIPPED = "done", "skipped"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON document, or None when the file does not exist."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _known(cls: type, document: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in document.items() if key in names}


@dataclass
class Sidecar:
    """``_meta.json`` of a finished stage partition."""

    task_id: str
    task_family: str
    pipeline: str
    stage: str
    entity: str
    date: str  # ISO date of the partition
    started_at: str  # ISO UTC timestamps
    finished_at: str
    duration_s: float = 0.0
    status: str = DONE  # DONE | SKIPPED
    skip_reason: str | None = None
    rows: int = 0
    # Where the data came from: the API base URL (no credentials) for an extract, the upstream's
    # source for a transform or load; None when unknown (written before sources were recorded).
    source: str | None = None
    # Parquet stages
    columns: list[str] = field(default_factory=list)
    bytes: int | None = None
    sha256: str | None = None
    http: dict[str, Any] = field(default_factory=dict)
    # Loads and the schema task
    table: str | None = None
    mode: str | None = None
    tables: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        return self.status == SKIPPED

    @property
    def notes(self) -> list[str]:
        """Human-readable lines the stage left for the report (``extra["notes"]``)."""
        return [str(note) for note in self.extra.get("notes") or []]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Sidecar:
        values = _known(cls, document)
        values["rows"] = int(values.get("rows") or 0)
        values["duration_s"] = float(values.get("duration_s") or 0.0)
        for name in ("extra", "http"):
            values[name] = dict(values.get(name) or {})
        return cls(**values)


@dataclass
class Failure:
    """``_failed.json`` of a partition whose last attempt failed (message already redacted)."""

    task_id: str
    task_family: str
    error_type: str
    message: str
    failed_at: str  # ISO UTC timestamp
    traceback_tail: str = ""
    run_id: str | None = None  # the run (ETL_RUN_ID) whose attempt this failure describes

    @property
    def error(self) -> str:
        """``ErrorType: message``, as the report and the status page show it."""
        return f"{self.error_type}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Failure:
        values = _known(cls, document)
        values.setdefault("error_type", "Error")
        values.setdefault("message", "")
        values.setdefault("failed_at", "")
        return cls(**values)


@dataclass
class PartitionRecord:
    """Both files of a partition as read together."""

    sidecar: Sidecar | None
    failure: Failure | None

    @property
    def failed(self) -> bool:
        """True when the last attempt failed (a failure newer than the sidecar, if any)."""
        if self.failure is None:
            return False
        return self.sidecar is None or self.failure.failed_at > self.sidecar.finished_at


def read_sidecar(directory: Path) -> Sidecar | None:
    """The sidecar of a partition directory, or None when it is not complete."""
    document = read_json(Path(directory) / META_FILE)
    return None if document is None else Sidecar.from_json(document)


def read_failure(directory: Path) -> Failure | None:
    """The failure record of a partition directory, or None."""
    document = read_json(Path(directory) / FAILED_FILE)
    return None if document is None else Failure.from_json(document)


def read_partition(directory: Path) -> PartitionRecord:
    """Sidecar and failure record of a partition directory."""
    return PartitionRecord(read_sidecar(directory), read_failure(directory))
