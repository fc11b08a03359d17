"""Tests of the pure Twitch transforms: exact typed output from hand-written raw rows,
de-duplication, snapshot date guard, NULL vs "" kept apart, duration parsing, referential checks.

Run: .venv/bin/pytest tests/twitch/test_transform.py
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_tasks.errors import DataQualityError
from etl_tasks.twitch.tables import TWITCH_CLIPS, TWITCH_STREAMS, TWITCH_VIDEOS
from etl_tasks.twitch.transform import (
    check_foreign_keys,
    check_references,
    transform_clips,
    transform_games,
    transform_streams,
    transform_users,
    transform_videos,
    video_duration_seconds,
)
from etl_tasks.warehouse.model import arrow_schema
from tests.twitch.samples import (
    CAPTURED_AT,
    DAY,
    EXTRACTED_AT,
    NASTY,
    clip_item,
    game_item,
    raw,
    stream_item,
    user_item,
    video_item,
)

UTC = dt.timezone.utc
VIDEO_DAY = dt.date(2025, 4, 13)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_users_exact_row_and_dedup_keeps_latest_extract() -> None:
    older = raw("users", [user_item(description="old")], extracted_at=at(2025, 4, 14, 9))
    newer = raw(
        "users",
        [user_item(description=""), user_item(id="100", login="b", display_name=NASTY)],
        extracted_at=at(2025, 4, 14, 10),
    )
    table, meta = transform_users(pa.concat_tables([older, newer]), DAY)
    assert table.schema == arrow_schema_of("twitch_users")
    assert table.to_pylist() == [
        {
            "id": "100",
            "login": "b",
            "display_name": NASTY,
            "type": "",
            "broadcaster_type": "affiliate",
            "description": "Speedruns e conversa.",
            "profile_image_url": user_item()["profile_image_url"],
            "offline_image_url": "",
            "created_at": at(2019, 6, 2, 18, 44, 10),
            "last_seen_date": DAY,
            "extracted_at": at(2025, 4, 14, 10),
        },
        {
            "id": "90311527",
            "login": "pixelpaloma",
            "display_name": "PixelPaloma",
            "type": "",
            "broadcaster_type": "affiliate",
            "description": "",
            "profile_image_url": user_item()["profile_image_url"],
            "offline_image_url": "",
            "created_at": at(2019, 6, 2, 18, 44, 10),
            "last_seen_date": DAY,
            "extracted_at": at(2025, 4, 14, 10),
        },
    ]
    assert meta == {
        "entity": "users",
        "date": "2025-04-14",
        "input_rows": 3,
        "output_rows": 2,
        "duplicates_dropped": 1,
        "out_of_date_dropped": 0,
        "null_counts": {},
    }


def test_games_igdb_empty_becomes_null() -> None:
    rows = [
        game_item(),
        game_item(id="21779", name="League of Legends", igdb_id="115"),
        game_item(),
    ]
    table, meta = transform_games(raw("games", rows), DAY)
    assert table.column("id").to_pylist() == ["21779", "509658"]
    assert table.column("igdb_id").to_pylist() == ["115", None]
    assert table.column("box_art_url").to_pylist()[1] == (
        "https://static-cdn.jtvnw.net/ttv-boxart/509658-{width}x{height}.jpg"
    )
    assert meta["duplicates_dropped"] == 1
    assert meta["null_counts"] == {"igdb_id": 1}


def test_streams_exact_row() -> None:
    table, meta = transform_streams(raw("streams", [stream_item()]), DAY)
    assert table.to_pylist() == [
        {
            "snapshot_date": DAY,
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
            "started_at": at(2025, 4, 14, 11, 2, 17),
            "language": "pt",
            "thumbnail_url": stream_item()["thumbnail_url"],
            "is_mature": False,
            "captured_at": CAPTURED_AT,
            "extracted_at": EXTRACTED_AT,
        }
    ]
    assert meta["captured_from"] == meta["captured_to"] == "2025-04-14T15:00:00+00:00"


def test_streams_dedup_keeps_freshest_observation() -> None:
    first_walk = raw(
        "streams",
        [stream_item(id="A", viewer_count=900), stream_item(id="B", viewer_count=800)],
        captured_at=at(2025, 4, 14, 15, 0, 0),
        page=1,
    )
    # Same second, later page: B moved down the list while the walk went on.
    same_second = raw(
        "streams",
        [stream_item(id="B", viewer_count=700, title="page 2")],
        captured_at=at(2025, 4, 14, 15, 0, 0),
        page=2,
    )
    # A later capture beats a higher page number of an earlier capture.
    later = raw(
        "streams",
        [stream_item(id="A", viewer_count=950, title="later")],
        captured_at=at(2025, 4, 14, 15, 0, 2),
        page=1,
    )
    earlier_high_page = raw(
        "streams",
        [stream_item(id="A", viewer_count=10, title="earlier")],
        captured_at=at(2025, 4, 14, 15, 0, 1),
        page=9,
    )
    raw_all = pa.concat_tables([first_walk, same_second, later, earlier_high_page])
    table, meta = transform_streams(raw_all, DAY)
    assert table.select(["id", "viewer_count", "title", "captured_at"]).to_pylist() == [
        {
            "id": "A",
            "viewer_count": 950,
            "title": "later",
            "captured_at": at(2025, 4, 14, 15, 0, 2),
        },
        {"id": "B", "viewer_count": 700, "title": "page 2", "captured_at": at(2025, 4, 14, 15)},
    ]
    assert (meta["input_rows"], meta["output_rows"], meta["duplicates_dropped"]) == (5, 2, 3)


def test_streams_empty_ids_null_text_untouched() -> None:
    rows = [
        stream_item(id="1", game_id="", game_name="", title="", tags=[]),
        stream_item(id="2", title=NASTY, tags=['a"b', "\\N"]),
        stream_item(id="3", title="NULL"),
    ]
    no_tags = stream_item(id="4")
    del no_tags["tags"], no_tags["is_mature"]
    table, meta = transform_streams(raw("streams", [*rows, no_tags]), DAY)
    assert table.column("game_id").to_pylist() == [None, "509658", "509658", "509658"]
    assert table.column("game_name").to_pylist() == [
        "",
        "Just Chatting",
        "Just Chatting",
        "Just Chatting",
    ]
    assert table.column("title").to_pylist() == ["", NASTY, "NULL", "manhã de papo"]
    assert table.column("tags").to_pylist() == ["[]", '["a\\"b","\\\\N"]', '["Português"]', None]
    assert table.column("is_mature").to_pylist() == [False, False, False, None]
    assert meta["null_counts"] == {"game_id": 1, "tags": 1, "is_mature": 1}


def test_streams_snapshot_from_another_date_is_refused() -> None:
    edge_ok = raw("streams", [stream_item(id="1")], captured_at=at(2025, 4, 14, 23, 59, 59))
    assert transform_streams(edge_ok, DAY)[0].num_rows == 1
    next_day = raw("streams", [stream_item(id="2")], captured_at=at(2025, 4, 15, 0, 0, 1))
    with pytest.raises(
        DataQualityError, match="snapshot captured on 2025-04-15 labelled 2025-04-14"
    ):
        transform_streams(pa.concat_tables([edge_ok, next_day]), DAY)


def test_videos_exact_row_and_date_filter() -> None:
    rows = [
        video_item(),
        video_item(id="9", created_at="2025-04-12T23:59:59Z"),  # previous UTC day
        video_item(id="8", created_at="2025-04-13T21:30:00-03:00"),  # 2025-04-14T00:30Z
        video_item(id="7", stream_id="", muted_segments=None, duration="45s", title=NASTY),
        video_item(id="6", stream_id=None, muted_segments=[], duration="1h2m7s"),
        video_item(id="5", duration="3m21s", created_at="2025-04-13T23:59:59.999999999Z"),
    ]
    table, meta = transform_videos(raw("videos", rows), VIDEO_DAY)
    assert table.schema == arrow_schema(TWITCH_VIDEOS)
    assert table.to_pylist()[0] == {
        "created_date": VIDEO_DAY,
        "id": "2381904467",
        "stream_id": "41877340221",
        "user_id": "90311527",
        "user_login": "pixelpaloma",
        "user_name": "PixelPaloma",
        "title": "manhã de papo",
        "description": "",
        "created_at": at(2025, 4, 13, 11, 2, 20),
        "published_at": at(2025, 4, 13, 11, 2, 20),
        "url": "https://www.twitch.tv/videos/2381904467",
        "thumbnail_url": video_item()["thumbnail_url"],
        "viewable": "public",
        "view_count": 412,
        "language": "pt",
        "type": "archive",
        "duration_seconds": 11564,
        "muted_segments": '[{"duration":30,"offset":5400}]',
        "extracted_at": EXTRACTED_AT,
    }
    assert table.select(["id", "stream_id", "muted_segments", "duration_seconds"]).to_pylist()[
        1:
    ] == [
        {
            "id": "5",
            "stream_id": "41877340221",
            "muted_segments": '[{"duration":30,"offset":5400}]',
            "duration_seconds": 201,
        },
        {"id": "6", "stream_id": None, "muted_segments": "[]", "duration_seconds": 3727},
        {"id": "7", "stream_id": None, "muted_segments": None, "duration_seconds": 45},
    ]
    assert table.column("title").to_pylist()[3] == NASTY
    # Nanoseconds are truncated, not rounded into the next day.
    assert table.column("created_at").to_pylist()[1] == at(2025, 4, 13, 23, 59, 59, 999999)
    assert meta["out_of_date_dropped"] == 2
    assert meta["null_counts"] == {"stream_id": 2, "muted_segments": 1}


def test_video_duration_forms_and_invalid_values() -> None:
    durations = pa.chunked_array(
        [["3h12m44s", "1h2m7s", "3m21s", "45s", "2h", "10m", "0s", "1h5s"]]
    )
    ids = pa.chunked_array([[str(i) for i in range(8)]])
    assert video_duration_seconds(durations, ids).to_pylist() == [
        11564,
        3727,
        201,
        45,
        7200,
        600,
        0,
        3605,
    ]
    bad = pa.chunked_array([["1m", "", "PT1H", "7s3m", "1d2h"]])
    with pytest.raises(DataQualityError) as caught:
        video_duration_seconds(bad, pa.chunked_array([["v1", "v2", "v3", "v4", "v5"]]))
    assert "video ids 'v2', 'v3', 'v4', 'v5'" in str(caught.value)
    with pytest.raises(DataQualityError, match="video ids 'X'"):
        transform_videos(raw("videos", [video_item(id="X", duration="1:02:07")]), VIDEO_DAY)


def test_invalid_timestamp_names_entity_and_id() -> None:
    rows = [video_item(id="ok"), video_item(id="bad", created_at="2025-04-13 11:02:20")]
    with pytest.raises(DataQualityError, match=r"videos\.created_at .* ids 'bad'"):
        transform_videos(raw("videos", rows), VIDEO_DAY)
    with pytest.raises(DataQualityError, match="impossible date"):
        transform_users(raw("users", [user_item(created_at="2019-13-02T18:44:10Z")]), DAY)


def test_clips_exact_row_nulls_and_filter() -> None:
    rows = [
        clip_item(),
        clip_item(id="b", video_id="", vod_offset=None, game_id="", duration=60.0, title=""),
        clip_item(id="c", created_at="2025-04-14T00:00:00Z"),
        clip_item(),  # duplicate page item
    ]
    table, meta = transform_clips(raw("clips", rows), VIDEO_DAY)
    assert table.schema == arrow_schema(TWITCH_CLIPS)
    assert table.to_pylist() == [
        {
            "created_date": VIDEO_DAY,
            "id": "BraveTenderOwlKappa-x1Y2z3",
            "url": "https://clips.twitch.tv/BraveTenderOwlKappa-x1Y2z3",
            "embed_url": "https://clips.twitch.tv/embed?clip=BraveTenderOwlKappa-x1Y2z3",
            "broadcaster_id": "90311527",
            "broadcaster_name": "PixelPaloma",
            "creator_id": "71100923",
            "creator_name": "Turquesa_77",
            "video_id": "2381904467",
            "game_id": "509658",
            "language": "pt",
            "title": "a risada",
            "view_count": 57,
            "created_at": at(2025, 4, 13, 12, 40, 3),
            "thumbnail_url": "https://clips-media-assets2.twitch.tv/x1Y2z3-preview-480x272.jpg",
            "duration_seconds": 28.4,
            "vod_offset": 5819,
            "is_featured": False,
            "extracted_at": EXTRACTED_AT,
        },
        {
            "created_date": VIDEO_DAY,
            "id": "b",
            "url": "https://clips.twitch.tv/BraveTenderOwlKappa-x1Y2z3",
            "embed_url": "https://clips.twitch.tv/embed?clip=BraveTenderOwlKappa-x1Y2z3",
            "broadcaster_id": "90311527",
            "broadcaster_name": "PixelPaloma",
            "creator_id": "71100923",
            "creator_name": "Turquesa_77",
            "video_id": None,
            "game_id": None,
            "language": "pt",
            "title": "",
            "view_count": 57,
            "created_at": at(2025, 4, 13, 12, 40, 3),
            "thumbnail_url": "https://clips-media-assets2.twitch.tv/x1Y2z3-preview-480x272.jpg",
            "duration_seconds": 60.0,
            "vod_offset": None,
            "is_featured": False,
            "extracted_at": EXTRACTED_AT,
        },
    ]
    assert meta["input_rows"] == 4
    assert meta["out_of_date_dropped"] == 1
    assert meta["duplicates_dropped"] == 1
    assert meta["null_counts"] == {"video_id": 1, "game_id": 1, "vod_offset": 1, "is_featured": 0}


def test_every_transform_matches_its_table_spec_even_when_empty() -> None:
    cases = [
        (transform_users, "users", user_item()),
        (transform_games, "games", game_item()),
        (transform_streams, "streams", stream_item()),
        (transform_videos, "videos", video_item()),
        (transform_clips, "clips", clip_item()),
    ]
    for transform, entity, item in cases:
        for rows in ([item], []):
            table, meta = transform(
                raw(entity, rows), VIDEO_DAY if entity in ("videos", "clips") else DAY
            )
            spec_name = f"twitch_{entity}"
            assert table.schema == arrow_schema_of(spec_name), spec_name
            assert meta["output_rows"] == len(rows)


def test_transform_reads_raw_parquet_and_rejects_foreign_tables(tmp_path) -> None:
    path = tmp_path / "streams.parquet"
    pq.write_table(raw("streams", [stream_item()]), path)
    table, _ = transform_streams(pq.read_table(path), DAY)
    assert table.column("id").to_pylist() == ["41877340221"]
    with pytest.raises(DataQualityError, match=r"lacks columns \['captured_at', 'page'\]"):
        transform_streams(
            raw("streams", [stream_item()]).drop_columns(["captured_at", "page"]), DAY
        )


def test_check_references_lists_missing_ids() -> None:
    users = pa.table({"id": ["1", "5"]})
    facts = pa.table({"user_id": ["1", "3", None, "2", "3", "5"]})
    with pytest.raises(DataQualityError) as caught:
        check_references(
            facts, "user_id", users, entity="twitch_streams", dimension_entity="twitch_users"
        )
    assert str(caught.value).startswith(
        "twitch_streams.user_id: 2 value(s) missing from twitch_users.id: '2', '3'; "
    )
    assert check_references(facts.slice(0, 1), "user_id", users) == 1
    many = pa.table({"user_id": [f"u{i:02d}" for i in range(12)]})
    with pytest.raises(DataQualityError, match=r"12 value\(s\) missing .*'u09' \(first 10 of 12\)"):
        check_references(many, "user_id", users)


def test_check_foreign_keys_follows_the_spec() -> None:
    streams, _ = transform_streams(
        raw("streams", [stream_item(), stream_item(id="2", game_id="")]), DAY
    )
    users, _ = transform_users(raw("users", [user_item()]), DAY)
    games, _ = transform_games(raw("games", [game_item()]), DAY)
    dims = {"twitch_users": users, "twitch_games": games}
    assert check_foreign_keys(TWITCH_STREAMS, streams, dims) == {"user_id": 1, "game_id": 1}
    with pytest.raises(
        DataQualityError,
        match=r"twitch_streams.game_id: 1 value\(s\) missing from twitch_games.id: '509658'",
    ):
        check_foreign_keys(TWITCH_STREAMS, streams, {**dims, "twitch_games": games.slice(0, 0)})
    with pytest.raises(ValueError, match="twitch_games"):
        check_foreign_keys(TWITCH_STREAMS, streams, {"twitch_users": users})


def arrow_schema_of(name: str) -> pa.Schema:
    from etl_tasks.twitch.tables import TABLES_BY_NAME

    return arrow_schema(TABLES_BY_NAME[name])
