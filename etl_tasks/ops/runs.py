"""The record of one command's run, printed at its end and appended to ``<output>/runs.jsonl``.

    record = RunRecord.start("etl-run", argv, pipelines, [date])
    ...
    record.finish(exit_code=0, status="SUCCESS", tasks_run=task_families)
    print(record.line()); append_record(record)

A run record says what one command did (run id, command line, pipelines, dates, wall-clock, the
tasks it ran, its exit code); the state of a date is the date's report, recomputed from disk
(``etl_tasks.report``). The two are kept apart on purpose: a no-op rerun adds a record and leaves
the report alone; the report's ``last_run`` names the last run that changed the date.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import shlex
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from etl_tasks.core.redact import redact
from etl_tasks.core.runtime import output_root, utc_now

logger = logging.getLogger(__name__)

RUNS_LOG = "runs.jsonl"


def new_run_id() -> str:
    """``20250410T150001Z-1a2b3c``: sortable by start time, unique across hosts."""
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


@dataclass
class RunRecord:
    """What one command did."""

    run_id: str
    command: str
    pipelines: list[str]
    dates: list[str]
    started_at: str
    finished_at: str | None = None
    wall_clock_s: float = 0.0
    tasks_run: list[str] = field(default_factory=list)
    exit_code: int | None = None
    status: str | None = None
    log: str | None = None  # the command's log file
    _clock: float = field(default=0.0, repr=False)

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        pipelines: Sequence[str],
        dates: Sequence[dt.date],
        run_id: str | None = None,
        log: Path | None = None,
    ) -> RunRecord:
        command = redact(shlex.join([name, *argv]))
        record = cls(
            run_id or new_run_id(), command, list(pipelines), [d.isoformat() for d in dates],
            utc_now().isoformat(), log=str(Path(log).absolute()) if log else None,
        )
        record._clock = time.perf_counter()
        return record

    def finish(self, exit_code: int, status: str, tasks_run: Sequence[str] = ()) -> RunRecord:
        self.finished_at = utc_now().isoformat()
        self.wall_clock_s = round(time.perf_counter() - self._clock, 3)
        self.exit_code, self.status = exit_code, status
        self.tasks_run = list(tasks_run)
        return self

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document.pop("_clock")
        return document

    def line(self) -> str:
        """``run 2025…-1a2b3c: etl-run --date 2025-04-10 · <pipelines> · 2025-04-10 · 7.81 s ·
        20 tasks run · exit 0 (SUCCESS)``."""
        dates = self.dates[0] if len(self.dates) == 1 else f"{len(self.dates)} dates"
        return (
            f"run {self.run_id}: {self.command} · {', '.join(self.pipelines)} · {dates} · "
            f"{self.wall_clock_s:.2f} s · {len(self.tasks_run)} tasks run · "
            f"exit {self.exit_code} ({self.status})"
        )

    def line_pt(self) -> str:
        """The same line in Portuguese (for a command that speaks its guide's language)."""
        dates = self.dates[0] if len(self.dates) == 1 else f"{len(self.dates)} datas"
        return (
            f"execução {self.run_id}: {self.command} · {', '.join(self.pipelines)} · {dates} · "
            f"{self.wall_clock_s:.2f} s · {len(self.tasks_run)} tarefas executadas · "
            f"código de saída {self.exit_code} ({self.status})"
        )


def runs_log_path() -> Path:
    return output_root() / RUNS_LOG


def append_record(record: RunRecord) -> Path:
    """Append one JSON line to the runs log (under flock: concurrent commands never interleave)."""
    path = runs_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            handle.write(line)
            handle.flush()
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return path


def read_records(path: Path | None = None) -> list[dict[str, Any]]:
    """Every record of the runs log, oldest first (a torn last line is ignored)."""
    try:
        text = (path or runs_log_path()).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def end_of_run(record: RunRecord, code: int, status: str, tasks_run: Sequence[str]) -> RunRecord:
    """Close the run record and append it to the runs log (the caller prints it, in its own
    language, as its last line). A runs log that cannot be written is logged, never raised: it
    must not change the exit code of the run it describes."""
    record.finish(code, status, tasks_run)
    try:
        append_record(record)
    except OSError as error:
        logger.error("could not append the run record to the runs log: %s", error)
    return record
