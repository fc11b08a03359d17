"""Tests of the Twitch warehouse TableSpecs: keys, partitions, foreign keys in dependency order,
nullability consistent with the raw extract schema, and the logical → Arrow type mapping.

Run: .venv/bin/pytest tests/twitch/test_tables.py
"""

from __future__ import annotations

import pyarrow as pa

from etl_tasks.twitch.raw_schema import RAW_SCHEMAS
from etl_tasks.twitch.tables import TABLES_BY_NAME, TWITCH_TABLES
from etl_tasks.warehouse.model import ForeignKey, arrow_schema, arrow_type


def test_tables_in_dependency_order_with_keys_and_modes() -> None:
    shape = [
        (spec.name, spec.mode, spec.partition_column, spec.primary_key) for spec in TWITCH_TABLES
    ]
    assert shape == [
        ("twitch_users", "upsert", None, ("id",)),
        ("twitch_games", "upsert", None, ("id",)),
        ("twitch_streams", "partition", "snapshot_date", ("snapshot_date", "id")),
        ("twitch_videos", "partition", "created_date", ("id",)),
        ("twitch_clips", "partition", "created_date", ("id",)),
    ]
    seen: set[str] = set()
    for spec in TWITCH_TABLES:
        for foreign_key in spec.foreign_keys:
            assert foreign_key.ref_table in seen, (
                f"{spec.name} loads before {foreign_key.ref_table}"
            )
        seen.add(spec.name)


def test_foreign_keys_only_where_the_extract_guarantees_the_parent() -> None:
    users, games = ("twitch_users", ("id",)), ("twitch_games", ("id",))
    assert {spec.name: spec.foreign_keys for spec in TWITCH_TABLES} == {
        "twitch_users": (),
        "twitch_games": (),
        "twitch_streams": (
            ForeignKey(("user_id",), *users),
            ForeignKey(("game_id",), *games),
        ),
        "twitch_videos": (ForeignKey(("user_id",), *users),),
        "twitch_clips": (ForeignKey(("broadcaster_id",), *users),),
    }
    for spec in TWITCH_TABLES:
        for foreign_key in spec.foreign_keys:
            parent = TABLES_BY_NAME[foreign_key.ref_table]
            assert foreign_key.ref_columns == parent.primary_key
            child_types = [c.type for c in spec.columns if c.name in foreign_key.columns]
            parent_types = [c.type for c in parent.columns if c.name in foreign_key.ref_columns]
            assert child_types == parent_types


def test_nullable_columns_are_exactly_the_documented_ones() -> None:
    nullable = {spec.name: [c.name for c in spec.columns if c.nullable] for spec in TWITCH_TABLES}
    assert nullable == {
        "twitch_users": [],
        "twitch_games": ["igdb_id"],
        "twitch_streams": ["game_id", "tags", "is_mature"],
        "twitch_videos": ["stream_id", "muted_segments"],
        "twitch_clips": ["video_id", "game_id", "vod_offset", "is_featured"],
    }


def test_not_null_columns_come_from_required_raw_fields() -> None:
    for spec in TWITCH_TABLES:
        raw = RAW_SCHEMAS[spec.name.removeprefix("twitch_")]
        for column in spec.columns:
            if column.name in raw.names:
                field = raw.field(column.name)
                assert column.nullable == field.nullable, f"{spec.name}.{column.name}"


def test_partition_columns_and_dates_are_indexed() -> None:
    for spec in TWITCH_TABLES:
        names = set(spec.column_names)
        for index in spec.indexes:
            assert set(index) <= names, f"{spec.name} index {index}"
        leading = {index[0] for index in spec.indexes} | {spec.primary_key[0]}
        if spec.mode == "partition":
            assert spec.partition_column in leading, spec.name
        else:
            assert "last_seen_date" in leading, spec.name
    assert ("created_date",) in TABLES_BY_NAME["twitch_videos"].indexes
    assert ("created_date",) in TABLES_BY_NAME["twitch_clips"].indexes


def test_logical_types_map_to_arrow_types() -> None:
    assert [
        arrow_type(t)
        for t in (
            "text",
            "bigint",
            "integer",
            "double",
            "boolean",
            "date",
            "timestamp",
            "json",
            "decimal(18,2)",
        )
    ] == [
        pa.string(),
        pa.int64(),
        pa.int32(),
        pa.float64(),
        pa.bool_(),
        pa.date32(),
        pa.timestamp("us", tz="UTC"),
        pa.string(),
        pa.decimal128(18, 2),
    ]
    videos = arrow_schema(TABLES_BY_NAME["twitch_videos"])
    assert videos.field("duration_seconds").type == pa.int64()
    assert videos.field("muted_segments").nullable
    assert not videos.field("created_at").nullable
    assert arrow_schema(TABLES_BY_NAME["twitch_clips"]).field("duration_seconds").type == (
        pa.float64()
    )
    for spec in TWITCH_TABLES:
        assert arrow_schema(spec).names == spec.column_names
