"""End to end: the Twitch graph against the sandbox over real HTTP into SQLite and PostgreSQL.

Expected rows come from the sandbox's own dataset functions (independent of the ETL code), at the
capture instant the extract recorded; the warehouse is read back with plain SQL.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import luigi
import psycopg2
import pyarrow.parquet as pq
import pytest

from etl_sandbox.twitch_data import TwitchDataset
from etl_tasks.core.stage import output_root
from etl_tasks.report import read_report
from etl_tasks.run_all import RunAll
from etl_tasks.twitch.tables import TWITCH_TABLES
from etl_tasks.twitch.tasks import LOADS, TRANSFORMS
from tests.luigi_helpers import build

DATE = dt.date(2025, 4, 10)
ENTITY_TABLE = {
    "users": "twitch_users",
    "games": "twitch_games",
    "streams": "twitch_streams",
    "videos": "twitch_videos",
    "clips": "twitch_clips",
}
PARTITION_COLUMN = {
    "twitch_streams": "snapshot_date",
    "twitch_videos": "created_date",
    "twitch_clips": "created_date",
}


pytestmark = pytest.mark.usefixtures("fast_retries")


def parquet(stage: str, entity: str) -> pq.ParquetFile:
    path = output_root() / "twitch" / stage / entity / f"date={DATE}" / "data.parquet"
    return pq.read_table(path)


def sqlite_rows(workdir, sql: str) -> list[tuple]:
    with sqlite3.connect(workdir / "warehouse.db") as connection:
        return connection.execute(sql).fetchall()


def expected_from_sandbox(captured_at: dt.datetime) -> dict[str, set[str]]:
    """Ids the sandbox holds for the demo date, computed by its dataset, not by the ETL."""
    dataset = TwitchDataset(42)
    streams = dataset.live_streams(captured_at)
    broadcasters = sorted({s["user_id"] for s in streams})
    return {
        "streams": {s["id"] for s in streams},
        "users": set(broadcasters),
        "videos": {
            v["id"] for b in broadcasters for v in dataset.videos_created_on(b, DATE, captured_at)
        },
        "clips": {
            c["id"] for b in broadcasters for c in dataset.clips_created_on(b, DATE, captured_at)
        },
    }


def captured_at() -> dt.datetime:
    meta_path = output_root() / "twitch" / "extract" / "streams" / f"date={DATE}" / "_meta.json"
    import json

    return dt.datetime.fromisoformat(json.loads(meta_path.read_text())["extra"]["captured_at"])


def test_run_all_into_sqlite_then_rerun_does_nothing(sandbox, workdir) -> None:
    config = luigi.configuration.get_config()
    config.set("pipelines", "btg", "false")
    try:
        first = build(RunAll(date=DATE))
        assert first.ok, first.failed
        assert {cls.__name__ for cls in LOADS} <= first.ran
        expected = expected_from_sandbox(captured_at())
        for entity in ("streams", "videos", "clips"):
            table = ENTITY_TABLE[entity]
            ids = {row[0] for row in sqlite_rows(workdir, f"SELECT id FROM {table}")}
            assert ids == expected[entity], entity
            assert len(ids) == parquet("transform", entity).num_rows
        user_ids = {row[0] for row in sqlite_rows(workdir, "SELECT id FROM twitch_users")}
        assert user_ids == expected["users"]
        assert all(len(expected[e]) > 0 for e in expected), expected
        report = read_report(DATE)
        assert report["status"] == "SUCCESS"
        assert report["stages"]["load"]["records"] == sum(
            parquet("transform", e).num_rows for e in ENTITY_TABLE
        )
        before = {
            t: sqlite_rows(workdir, f"SELECT * FROM {t} ORDER BY 1") for t in ENTITY_TABLE.values()
        }

        second = build(RunAll(date=DATE))
        assert second.ok
        assert second.ran == set(), second.ran
        after = {
            t: sqlite_rows(workdir, f"SELECT * FROM {t} ORDER BY 1") for t in ENTITY_TABLE.values()
        }
        assert after == before
    finally:
        config.set("pipelines", "btg", "true")


@pytest.mark.postgres
def test_postgres_fault_rerun_marker_and_escaping(
    sandbox, workdir, own_pg_url, monkeypatch
) -> None:
    # Its own database: it counts every row of the tables (test_partition_run loads them too).
    pg_url = own_pg_url
    monkeypatch.setenv("TWITCH_WAREHOUSE_URL", pg_url)
    config = luigi.configuration.get_config()
    config.set("pipelines", "btg", "false")
    try:
        _postgres_scenario(sandbox, workdir, pg_url)
    finally:
        config.set("pipelines", "btg", "true")


def pg_counts(pg_url: str) -> dict[str, int]:
    with psycopg2.connect(pg_url) as connection, connection.cursor() as cursor:
        counts = {}
        for spec in TWITCH_TABLES:
            cursor.execute(f"SELECT count(*) FROM {spec.name}")
            counts[spec.name] = cursor.fetchone()[0]
        return counts


def pg_table(pg_url: str, table: str, columns: list[str]) -> list[tuple]:
    with psycopg2.connect(pg_url) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
        return cursor.fetchall()


def _postgres_scenario(sandbox, workdir, pg_url: str) -> None:
    # 1. clips extraction fails: every call to /helix/clips answers 503 until the fault is cleared.
    sandbox.control(
        "faults", {"api": "twitch", "path": "/helix/clips", "status": 503, "count": 10_000}
    )
    failed = build(RunAll(date=DATE))
    assert not failed.ok
    assert "TwitchExtractClips" in failed.failed
    assert "TwitchLoadClips" not in failed.ran and "TwitchTransformClips" not in failed.ran
    report = read_report(DATE)
    assert report["status"] == "FAILED"
    assert any("TwitchExtractClips" in error for error in report["errors"])
    assert pg_counts(pg_url)["twitch_clips"] == 0
    with psycopg2.connect(pg_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM etl_load_audit WHERE table_name = 'twitch_clips'")
        assert cursor.fetchone()[0] == 0

    # 2. fault cleared: only the clips tasks (and the report) run.
    sandbox.clear_faults()
    rerun = build(RunAll(date=DATE))
    assert rerun.ok, rerun.failed
    assert rerun.ran == {
        "TwitchExtractClips",
        "TwitchTransformClips",
        "TwitchLoadClips",
        "ReportTask",
        "RunAll",
    }
    counts = pg_counts(pg_url)
    for entity, table in ENTITY_TABLE.items():
        assert counts[table] == parquet("transform", entity).num_rows, table
    expected = expected_from_sandbox(captured_at())
    assert {r[0] for r in pg_table(pg_url, "twitch_clips", ["id"])} == expected["clips"]
    assert {r[0] for r in pg_table(pg_url, "twitch_streams", ["id"])} == expected["streams"]
    assert read_report(DATE)["status"] == "SUCCESS"

    # 3. a removed load marker reloads the partition without doubling it.
    with psycopg2.connect(pg_url) as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM etl_load_audit WHERE table_name = 'twitch_streams'")
    again = build(RunAll(date=DATE))
    assert "TwitchLoadStreams" in again.ran
    assert pg_counts(pg_url) == counts

    # 4. text arrives byte-identical; NULL and '' stay distinct.
    for entity, columns in (
        ("videos", ["id", "title", "description", "stream_id", "muted_segments"]),
        ("clips", ["id", "title", "video_id", "vod_offset"]),
        ("streams", ["id", "title", "game_id"]),
    ):
        source = parquet("transform", entity).select(columns).sort_by("id").to_pylist()
        loaded = pg_table(
            pg_url,
            ENTITY_TABLE[entity],
            [f"{c}::text" if c == "muted_segments" else c for c in columns],
        )
        assert len(loaded) == len(source)
        for want, got in zip(source, loaded, strict=True):
            for column, value in zip(columns, got, strict=True):
                if column == "muted_segments":
                    import json

                    assert (None if value is None else json.loads(value)) == (
                        None if want[column] is None else json.loads(want[column])
                    )
                else:
                    assert value == want[column], (entity, column, want["id"])
    titles = [row[0] for row in pg_table(pg_url, "twitch_videos", ["title"])]
    titles += [row[0] for row in pg_table(pg_url, "twitch_clips", ["title"])]
    nasty = {"\t", "\n", "\\", '"', "\\N", "NULL"}
    found = {token for token in nasty if any(token in (t or "") for t in titles)}
    assert found == nasty, f"sandbox data should exercise every escape; saw {found}"


def test_historical_date_skips_the_snapshot(sandbox, workdir) -> None:
    sandbox.control("clock", {"now": "2025-04-14T15:00:00Z"})
    result = build(*(cls(date=DATE) for cls in TRANSFORMS if cls.entity == "streams"))
    assert result.ok
    meta_path = output_root() / "twitch" / "extract" / "streams" / f"date={DATE}" / "_meta.json"
    import json

    meta = json.loads(meta_path.read_text())
    assert meta["status"] == "skipped" and meta["rows"] == 0
    assert "2025-04-14" in meta["skip_reason"]


def test_future_date_is_an_error_and_writes_nothing(sandbox, workdir) -> None:
    result = build(
        *(cls(date=dt.date(2025, 4, 11)) for cls in TRANSFORMS if cls.entity == "streams")
    )
    assert not result.ok
    partition = output_root() / "twitch" / "extract" / "streams" / "date=2025-04-11"
    assert not (partition / "_meta.json").exists()
    assert "future" in (partition / "_failed.json").read_text()
