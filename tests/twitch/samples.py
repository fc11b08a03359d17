"""Hand-written Twitch API items shaped like the examples of api-contract.md A5, for unit tests.

Each ``*_item(**changes)`` returns a fresh dict (the contract's example with ``changes`` applied),
and :func:`raw` turns a list of items into a raw extract table with fixed stamps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from etl_tasks.twitch.raw_schema import rows_to_table

UTC = dt.timezone.utc
DAY = dt.date(2025, 4, 14)
EXTRACTED_AT = dt.datetime(2025, 4, 14, 15, 0, 5, tzinfo=UTC)
CAPTURED_AT = dt.datetime(2025, 4, 14, 15, 0, 0, tzinfo=UTC)
# Text that breaks naive CSV/COPY escaping; transforms must pass it through unchanged.
NASTY = 'tab\there\nnew "quoted" back\\slash \\N NULL \u00e7\u00e3o \U0001f3ae'


def user_item(**changes: Any) -> dict[str, Any]:
    item = {
        "id": "90311527",
        "login": "pixelpaloma",
        "display_name": "PixelPaloma",
        "type": "",
        "broadcaster_type": "affiliate",
        "description": "Speedruns e conversa.",
        "profile_image_url": "https://static-cdn.jtvnw.net/jtv_user_pictures/pixelpaloma-profile_image-300x300.png",
        "offline_image_url": "",
        "view_count": 0,
        "created_at": "2019-06-02T18:44:10Z",
    }
    return {**item, **changes}


def game_item(**changes: Any) -> dict[str, Any]:
    item = {
        "id": "509658",
        "name": "Just Chatting",
        "box_art_url": "https://static-cdn.jtvnw.net/ttv-boxart/509658-{width}x{height}.jpg",
        "igdb_id": "",
    }
    return {**item, **changes}


def stream_item(**changes: Any) -> dict[str, Any]:
    item = {
        "id": "41877340221",
        "user_id": "90311527",
        "user_login": "pixelpaloma",
        "user_name": "PixelPaloma",
        "game_id": "509658",
        "game_name": "Just Chatting",
        "type": "live",
        "title": "manhã de papo",
        "tags": ["Português"],
        "viewer_count": 1834,
        "started_at": "2025-04-14T11:02:17Z",
        "language": "pt",
        "thumbnail_url": "https://static-cdn.jtvnw.net/previews-ttv/live_user_pixelpaloma-{width}x{height}.jpg",
        "tag_ids": [],
        "is_mature": False,
    }
    return {**item, **changes}


def video_item(**changes: Any) -> dict[str, Any]:
    item = {
        "id": "2381904467",
        "stream_id": "41877340221",
        "user_id": "90311527",
        "user_login": "pixelpaloma",
        "user_name": "PixelPaloma",
        "title": "manhã de papo",
        "description": "",
        "created_at": "2025-04-13T11:02:20Z",
        "published_at": "2025-04-13T11:02:20Z",
        "url": "https://www.twitch.tv/videos/2381904467",
        "thumbnail_url": "https://static-cdn.jtvnw.net/cf_vods/abc123/pixelpaloma_41877340221/thumb/thumb0-%{width}x%{height}.jpg",
        "viewable": "public",
        "view_count": 412,
        "language": "pt",
        "type": "archive",
        "duration": "3h12m44s",
        "muted_segments": [{"duration": 30, "offset": 5400}],
    }
    return {**item, **changes}


def clip_item(**changes: Any) -> dict[str, Any]:
    item = {
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
        "created_at": "2025-04-13T12:40:03Z",
        "thumbnail_url": "https://clips-media-assets2.twitch.tv/x1Y2z3-preview-480x272.jpg",
        "duration": 28.4,
        "vod_offset": 5819,
        "is_featured": False,
    }
    return {**item, **changes}


def raw(entity: str, rows: list[dict[str, Any]], **stamps: Any) -> pa.Table:
    """A raw extract table of ``rows`` with default stamps (overridable)."""
    stamps.setdefault("extracted_at", EXTRACTED_AT)
    if entity == "streams":
        stamps.setdefault("captured_at", CAPTURED_AT)
        stamps.setdefault("page", 1)
    return rows_to_table(entity, rows, **stamps)
