"""A target made against another API base URL is never reused silently.

Two real sandbox processes stand for two API deployments: a date built from the first, then run
with the environment pointed at the second, fails with an error that names both URLs and the
``etl-invalidate`` command; nothing is fetched from the second sandbox and no row changes. After
that command, the same run rebuilds the date from the second sandbox and records it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from etl_sandbox.launcher import running_sandbox
from etl_tasks.cli.invalidate import main as invalidate_main
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

        refused = build(*final_tasks(DATE))
        assert not refused.ok
        failure = TwitchLoadStreams(date=DATE).partition().failure()
        assert failure is not None and failure.error_type == "SourceMismatchError"
        assert sandbox.twitch_api_url in failure.message
        assert other.twitch_api_url in failure.message
        assert f"etl-invalidate --date {DATE} --task TwitchExtractStreams" in failure.message
        assert twitch_requests(other) == 0
        assert streams_rows(workdir) == rows
        assert sources(DATE) == first

        assert invalidate_main(["--date", DATE.isoformat(), "--task", "TwitchExtractStreams"]) == 0
        rebuilt = build(*final_tasks(DATE))
        assert rebuilt.ok, rebuilt.failed
        assert twitch_requests(other) > 0
        assert set(sources(DATE).values()) == {other.twitch_api_url}
        assert TwitchLoadStreams(date=DATE).partition().failure() is None
