"""A target made against another API base URL is never reused silently.

Two real sandbox processes stand for two API deployments: a date built from the first, then run
with the environment pointed at the second, fails with an error that names both URLs and the
``etl-invalidate`` command; nothing is fetched from the second sandbox and no row changes. After
that command, the same run rebuilds the date from the second sandbox and records it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3

import pyarrow as pa
import pytest

from etl_sandbox.launcher import running_sandbox
from etl_tasks.btg.load import BtgLoadPosicoes
from etl_tasks.btg.transform_tasks import BtgTransformRentabilidade
from etl_tasks.cli.invalidate import main as invalidate_main
from etl_tasks.core.stage import StageOutput, StageTask
from etl_tasks.errors import SourceMismatchError
from etl_tasks.ops.status import FAILED, task_state
from etl_tasks.ops.warehouse_view import WarehouseView
from etl_tasks.twitch.tasks import TwitchLoadStreams, final_tasks, stage_tasks
from tests.luigi_helpers import build

DATE = dt.date(2025, 4, 10)

pytestmark = pytest.mark.usefixtures("fast_retries")


def twitch_requests(server) -> int:
    """API requests the (private) sandbox answered; its own control calls are not counted."""
    return sum(v for k, v in server.stats()["requests"].items() if k.startswith("twitch:"))


def streams_rows(workdir) -> int:
    with sqlite3.connect(workdir / "warehouse.db") as connection:
        return connection.execute("SELECT count(*) FROM twitch_streams").fetchone()[0]


def sources(date: dt.date) -> dict[str, str | None]:
    return {
        task.task_family: sidecar.source
        for task in stage_tasks(date)
        if task.stage != "schema" and (sidecar := task.partition().sidecar()) is not None
    }


def test_a_date_built_from_another_api_base_url_is_an_error_until_invalidated(
    sandbox, workdir, monkeypatch
) -> None:
    assert build(*final_tasks(DATE)).ok
    first = sources(DATE)
    assert len(first) == 15 and set(first.values()) == {sandbox.twitch_api_url}  # 5 entities x 3
    rows = streams_rows(workdir)
    assert rows > 0

    with running_sandbox() as other:
        other.control("clock", {"now": "2025-04-10T15:00:00Z"})
        for key, value in other.client_env().items():
            monkeypatch.setenv(key, value)

        # The plan view (etl-backfill --plan) shows it, reading only.
        state = task_state(TwitchLoadStreams(date=DATE), WarehouseView())
        assert state.symbol == FAILED and "etl-invalidate" in (state.note or "")
        assert TwitchLoadStreams(date=DATE).partition().failure() is None

        refused = build(*final_tasks(DATE))
        assert not refused.ok
        failure = TwitchLoadStreams(date=DATE).partition().failure()
        assert failure is not None and failure.error_type == "SourceMismatchError"
        assert sandbox.twitch_api_url in failure.message
        assert other.twitch_api_url in failure.message
        assert failure.message.endswith(
            f"run etl-invalidate --date {DATE} --task TwitchExtractStreams, then run the date again"
        )
        assert twitch_requests(other) == 0
        assert streams_rows(workdir) == rows
        assert sources(DATE) == first

        assert invalidate_main(["--date", DATE.isoformat(), "--task", "TwitchExtractStreams"]) == 0
        rebuilt = build(*final_tasks(DATE))
        assert rebuilt.ok, rebuilt.failed
        assert twitch_requests(other) > 0
        assert set(sources(DATE).values()) == {other.twitch_api_url}
        assert TwitchLoadStreams(date=DATE).partition().failure() is None


class Fetched(StageTask):
    """An extract-like stage whose API base URL comes from the environment."""

    pipeline, stage, entity = "demo", "extract", "fetched"

    def api_source(self) -> str | None:
        return os.environ["DEMO_BASE_URL"]

    def produce(self) -> StageOutput:
        table = pa.table({"n": pa.array([1], pa.int64())})
        return StageOutput(table.schema, [table])


class Nothing(Fetched):
    """The same, but skipped (no data fetched)."""

    entity = "nothing"

    def produce(self) -> StageOutput:
        return StageOutput(pa.schema([("n", pa.int64())]), [], skip_reason="holiday")


class Derived(StageTask):
    pipeline, stage, entity = "demo", "transform", "derived"

    def requires(self) -> dict[str, StageTask]:
        return {"fetched": Fetched(date=self.date), "nothing": Nothing(date=self.date)}

    def produce(self) -> StageOutput:
        return StageOutput(pa.schema([("n", pa.int64())]), [])


def test_mismatch_rules_without_an_api(workdir, monkeypatch) -> None:
    monkeypatch.setenv("DEMO_BASE_URL", "http://one.test/api/")
    assert build(Derived(date=DATE)).ok
    assert Derived(date=DATE).output().meta().source == "http://one.test/api"
    monkeypatch.setenv("DEMO_BASE_URL", "http://one.test/api")  # the same source, spelt so
    assert Derived(date=DATE).complete()
    monkeypatch.setenv("DEMO_BASE_URL", "http://two.test/api")
    assert Nothing(date=DATE).complete()  # skipped: holds no data, nothing to mistake
    with pytest.raises(SourceMismatchError, match="--task Fetched and etl-invalidate --date"):
        Derived(date=DATE).complete()
    # A sidecar written before sources were recorded is accepted.
    meta = Derived(date=DATE).partition().meta_path
    document = json.loads(meta.read_text())
    document.pop("source")
    meta.write_text(json.dumps(document))
    assert Derived(date=DATE).complete()


def test_invalidate_commands_name_the_first_extracts() -> None:
    assert TwitchLoadStreams(date=DATE).source_roots() == ["TwitchExtractStreams"]
    # The report types are independent: the carteira's gate does not require the rentabilidade.
    assert BtgLoadPosicoes(date=DATE).source_roots() == ["BtgExtractCarteira"]
    assert BtgTransformRentabilidade(date=DATE).source_roots() == ["BtgExtractRentabilidade"]
