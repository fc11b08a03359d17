"""The typed sidecar: round trip through the stage template's writer, lenient reading of older
files, notes, and which of sidecar and failure record is the current state."""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa

from etl_tasks.core.sidecar import Failure, Sidecar, read_partition, read_sidecar
from etl_tasks.core.stage import StageOutput, StageTask, record_failure, without_credentials
from tests.luigi_helpers import build

DAY = dt.date(2025, 4, 10)


class NotedStage(StageTask):
    """A stage that leaves notes and numbers in ``extra`` and claims an API source."""

    pipeline, stage, entity = "demo", "extract", "noted"

    def api_source(self) -> str | None:
        return "https://user:secret@api.example.test/v1/?token=abc"

    def produce(self) -> StageOutput:
        table = pa.table({"n": pa.array([1, 2, 3], pa.int64())})
        return StageOutput(
            table.schema, [table], extra={"notes": ["3 values rounded"], "rounded": 3}
        )


class DerivedStage(StageTask):
    """A stage without its own API: its source is its upstream's."""

    pipeline, stage, entity = "demo", "transform", "derived"

    def requires(self) -> NotedStage:
        return NotedStage(date=self.date)

    def produce(self) -> StageOutput:
        return StageOutput(pa.schema([("n", pa.int64())]), [], skip_reason="nothing to do")


def test_stage_writes_a_typed_sidecar_with_notes_and_source(workdir) -> None:
    assert build(DerivedStage(date=DAY)).ok
    sidecar = NotedStage(date=DAY).output().meta()
    assert isinstance(sidecar, Sidecar)
    assert (sidecar.status, sidecar.rows, sidecar.columns) == ("done", 3, ["n"])
    assert sidecar.notes == ["3 values rounded"]
    assert sidecar.extra["rounded"] == 3
    assert sidecar.source == "https://api.example.test/v1"  # no user, password or query
    assert "secret" not in NotedStage(date=DAY).partition().meta_path.read_text()
    derived = DerivedStage(date=DAY).output().meta()
    assert (derived.status, derived.skip_reason, derived.rows) == ("skipped", "nothing to do", 0)
    assert derived.source == sidecar.source
    assert derived.notes == []


def test_older_sidecars_stay_readable(tmp_path) -> None:
    (tmp_path / "_meta.json").write_text(json.dumps({
        "task_id": "T_1", "task_family": "T", "pipeline": "p", "stage": "extract",
        "entity": "e", "date": "2025-04-10", "started_at": "2025-04-10T00:00:00+00:00",
        "finished_at": "2025-04-10T00:00:01+00:00", "rows": "7", "status": "done",
        "a_key_from_the_future": 1,
    }))
    sidecar = read_sidecar(tmp_path)
    assert sidecar is not None
    assert (sidecar.rows, sidecar.source, sidecar.extra, sidecar.notes) == (7, None, {}, [])
    assert read_sidecar(tmp_path / "missing") is None


def test_a_failure_newer_than_the_sidecar_is_the_state(workdir) -> None:
    task = NotedStage(date=DAY)
    assert build(task).ok
    assert not read_partition(task.partition().directory).failed
    record_failure(task, RuntimeError("boom"))
    record = task.partition().record()
    assert isinstance(record.failure, Failure)
    assert record.failed
    assert record.failure.error == "RuntimeError: boom"
    task.partition().remove()
    assert build(task).ok  # a success clears the failure record
    assert task.partition().failure() is None


def test_without_credentials() -> None:
    assert without_credentials("http://u:p@127.0.0.1:8080/btg/") == "http://127.0.0.1:8080/btg"
    assert without_credentials("https://api.twitch.tv/helix") == "https://api.twitch.tv/helix"


def test_only_the_stage_template_touches_sidecar_files() -> None:
    """Everything else reads through the typed functions (invalidation only deletes files)."""
    allowed = {"core/stage.py", "core/targets.py", "core/sidecar.py", "ops/invalidation.py"}
    names = {"meta_path", "failed_path", "META_FILE", "FAILED_FILE"}
    package = Path(__file__).resolve().parents[2] / "etl_tasks"
    offenders = []
    for path in package.rglob("*.py"):
        relative = path.relative_to(package).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            used = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if used in names and relative not in allowed:
                offenders.append(f"{relative}:{node.lineno} {used}")
    assert offenders == []
