"""Tests of the raw Twitch extract schema builder ``rows_to_table``: exact values, null vs missing,
JSON text of arrays, stamps, and the FatalExtractError raised for malformed API pages."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_tasks.errors import FatalExtractError
from etl_tasks.twitch.raw_schema import RAW_SCHEMAS, raw_schema, rows_to_table
from tests.twitch.samples import (
    CAPTURED_AT,
    EXTRACTED_AT,
    clip_item,
    game_item,
    raw,
    stream_item,
    user_item,
    video_item,
)

BRT = dt.timezone(dt.timedelta(hours=-3))
VALID_ITEM = {
    "users": user_item,
    "games": game_item,
    "streams": stream_item,
    "videos": video_item,
    "clips": clip_item,
}


def test_stream_row_keeps_wire_values_and_stamps() -> None:
    table = raw("streams", [stream_item(unknown_new_field={"x": 1})], page=3)
    assert table.schema == raw_schema("streams")
    row = table.to_pylist()[0]
    assert row == {
        "id": "41877340221",
        "user_id": "90311527",
        "user_login": "pixelpaloma",
        "user_name": "PixelPaloma",
        "game_id": "509658",
        "game_name": "Just Chatting",
        "type": "live",
        "title": "manhã de papo",
        "tags": '["Português"]',
        "viewer_count": 1834,
        "started_at": "2025-04-14T11:02:17Z",
        "language": "pt",
        "thumbnail_url": "https://static-cdn.jtvnw.net/previews-ttv/live_user_pixelpaloma-{width}x{height}.jpg",
        "tag_ids": "[]",
        "is_mature": False,
        "unknown_fields": '{"unknown_new_field":{"x":1}}',
        "extracted_at": EXTRACTED_AT,
        "captured_at": CAPTURED_AT,
        "page": 3,
    }


def test_missing_optional_keys_are_null_and_arrays_are_compact_json() -> None:
    stream = stream_item()
    del stream["tag_ids"], stream["is_mature"], stream["tags"]
    video_null = video_item(id="1", muted_segments=None, stream_id=None)
    video_empty = video_item(id="2", muted_segments=[])
    video_extra_keys = video_item(
        id="3", muted_segments=[{"offset": 60, "duration": 30, "note": "ignored"}]
    )
    streams = raw("streams", [stream]).to_pylist()[0]
    assert (streams["tags"], streams["tag_ids"], streams["is_mature"]) == (None, None, None)
    videos = raw("videos", [video_null, video_empty, video_extra_keys])
    assert videos["muted_segments"].to_pylist() == [None, "[]", '[{"duration":30,"offset":60}]']
    assert videos["stream_id"].to_pylist() == [None, "41877340221", "41877340221"]


def test_stamps_are_converted_to_utc() -> None:
    table = raw("users", [user_item()], extracted_at=dt.datetime(2025, 4, 14, 12, 0, tzinfo=BRT))
    assert table["extracted_at"].to_pylist() == [dt.datetime(2025, 4, 14, 15, 0, tzinfo=dt.UTC)]


def test_empty_page_gives_empty_table_with_schema() -> None:
    for entity, schema in RAW_SCHEMAS.items():
        table = raw(entity, [])
        assert table.num_rows == 0
        assert table.schema == schema


def test_parquet_round_trip_keeps_schema(tmp_path) -> None:
    table = raw("clips", [clip_item(), clip_item(id="b", vod_offset=None, video_id="")])
    pq.write_table(table, tmp_path / "clips.parquet")
    assert pq.read_table(tmp_path / "clips.parquet").equals(table)


@pytest.mark.parametrize(
    ("entity", "item", "field", "fragment"),
    [
        ("streams", stream_item(viewer_count="abc"), "viewer_count", "'abc' (str)"),
        ("streams", stream_item(viewer_count=12.5), "viewer_count", "12.5 (float)"),
        ("streams", stream_item(viewer_count=True), "viewer_count", "True (bool)"),
        ("streams", stream_item(tags=["ok", 3]), "tags", "array of strings"),
        ("streams", stream_item(is_mature="false"), "is_mature", "a boolean"),
        ("users", user_item(id=90311527), "id", "90311527 (int)"),
        ("games", game_item(name=None), "name", "is null (required field)"),
        ("videos", video_item(muted_segments=[{"duration": "30"}]), "muted_segments", "offset"),
        ("videos", video_item(muted_segments={}), "muted_segments", "{} (dict)"),
        ("clips", clip_item(duration="28.4"), "duration", "a number"),
        ("clips", clip_item(vod_offset=2**63), "vod_offset", "64-bit"),
    ],
)
def test_wrong_types_raise_fatal_naming_entity_and_field(
    entity: str, item: dict, field: str, fragment: str
) -> None:
    valid_first = VALID_ITEM[entity](id="valid-first-item")
    with pytest.raises(FatalExtractError) as caught:
        raw(entity, [valid_first, item])
    message = str(caught.value)
    assert message.startswith(f"malformed API page: {entity} data[1].{field} ")
    assert fragment in message


def test_missing_required_key_and_non_object_item() -> None:
    clip = clip_item()
    del clip["broadcaster_id"]
    with pytest.raises(FatalExtractError, match=r"clips data\[0\]\.broadcaster_id is missing"):
        raw("clips", [clip])
    with pytest.raises(FatalExtractError, match=r"videos data\[1\] is \['x'\] \(list\), expected"):
        raw("videos", [video_item(), ["x"]])


def test_stamps_are_required_and_checked() -> None:
    with pytest.raises(ValueError, match="captured_at"):
        rows_to_table("streams", [stream_item()], extracted_at=EXTRACTED_AT, page=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        rows_to_table("users", [user_item()], extracted_at=dt.datetime(2025, 4, 14))
    with pytest.raises(ValueError, match="unknown Twitch entity"):
        rows_to_table("follows", [], extracted_at=EXTRACTED_AT)
    assert raw("streams", [stream_item()], page=2)["page"].type == pa.int32()
