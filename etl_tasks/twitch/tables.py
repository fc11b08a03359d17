"""Warehouse tables of the Twitch pipeline, declared once as :class:`TableSpec`.

Dimensions (``twitch_users``, ``twitch_games``) are upserted by id: a load refreshes each row's
attributes and ``last_seen_date`` (the date of the partition that last carried the id). There is no
``first_seen_date``: a plain upsert overwrites every column, so a first-seen date would need an
insert-only column in the warehouse backends, and a wrong date is worse than none.

Facts (``twitch_streams``, ``twitch_videos``, ``twitch_clips``) are replaced per date partition.
A video or clip belongs to the one UTC date of its ``created_at``, so its ``id`` alone is the
primary key and the same row can never be loaded under two partitions. A stream is observed again
every day it is live, so its key is ``(snapshot_date, id)``.

Nullability follows api-contract.md A5: NOT NULL where the API guarantees a value; NULL where the
contract says a value can be absent (``videos.stream_id``, ``muted_segments``, ``clips.vod_offset``,
ids sent as ``""`` such as ``game_id``/``video_id``/``igdb_id``). Empty titles and descriptions stay
``""``: NULL and the empty string mean different things.

Column order here is the column order of the transform output (``arrow_schema``).
"""

from __future__ import annotations

from etl_tasks.warehouse.model import Column, ForeignKey, TableSpec, not_null

TWITCH_USERS = TableSpec(
    name="twitch_users",
    mode="upsert",
    columns=(
        not_null("id", "text"),
        not_null("login", "text"),
        not_null("display_name", "text"),
        not_null("type", "text"),  # admin, global_mod, staff or ""
        not_null("broadcaster_type", "text"),  # affiliate, partner or ""
        not_null("description", "text"),
        not_null("profile_image_url", "text"),
        not_null("offline_image_url", "text"),
        not_null("created_at", "timestamp"),
        not_null("last_seen_date", "date"),
        not_null("extracted_at", "timestamp"),
    ),
    primary_key=("id",),
    indexes=(("last_seen_date",),),
)

TWITCH_GAMES = TableSpec(
    name="twitch_games",
    mode="upsert",
    columns=(
        not_null("id", "text"),
        not_null("name", "text"),
        not_null("box_art_url", "text"),  # template with {width}x{height}
        Column("igdb_id", "text"),  # the API sends "" when unknown; stored as NULL
        not_null("last_seen_date", "date"),
        not_null("extracted_at", "timestamp"),
    ),
    primary_key=("id",),
    indexes=(("last_seen_date",),),
)

TWITCH_STREAMS = TableSpec(
    name="twitch_streams",
    partition_column="snapshot_date",
    columns=(
        not_null("snapshot_date", "date"),
        not_null("id", "text"),
        not_null("user_id", "text"),
        not_null("user_login", "text"),
        not_null("user_name", "text"),
        Column("game_id", "text"),  # "" (no category set) is stored as NULL
        not_null("game_name", "text"),  # "" when no category set
        not_null("type", "text"),
        not_null("title", "text"),
        Column("tags", "json"),
        not_null("viewer_count", "bigint"),
        not_null("started_at", "timestamp"),
        not_null("language", "text"),
        not_null("thumbnail_url", "text"),
        Column("is_mature", "boolean"),  # deprecated by Twitch; NULL once the API drops it
        not_null("captured_at", "timestamp"),
        not_null("extracted_at", "timestamp"),
    ),
    primary_key=("snapshot_date", "id"),
    foreign_keys=(
        ForeignKey(("user_id",), "twitch_users", ("id",)),
        ForeignKey(("game_id",), "twitch_games", ("id",)),
    ),
    # snapshot_date leads the primary key, so partition deletes need no extra index.
    indexes=(("started_at",), ("user_id",), ("game_id",)),
)

TWITCH_VIDEOS = TableSpec(
    name="twitch_videos",
    partition_column="created_date",
    columns=(
        not_null("created_date", "date"),
        not_null("id", "text"),
        Column("stream_id", "text"),  # archives only; no FK: the stream may never have been seen
        not_null("user_id", "text"),
        not_null("user_login", "text"),
        not_null("user_name", "text"),
        not_null("title", "text"),
        not_null("description", "text"),
        not_null("created_at", "timestamp"),
        not_null("published_at", "timestamp"),
        not_null("url", "text"),
        not_null("thumbnail_url", "text"),  # may be "" while an archive is still recording
        not_null("viewable", "text"),
        not_null("view_count", "bigint"),
        not_null("language", "text"),
        not_null("type", "text"),  # archive, highlight, upload
        not_null("duration_seconds", "bigint"),  # parsed from Twitch's "1h2m7s"
        Column("muted_segments", "json"),  # NULL when none (real API); "[]" kept as sent
        not_null("extracted_at", "timestamp"),
    ),
    primary_key=("id",),
    foreign_keys=(ForeignKey(("user_id",), "twitch_users", ("id",)),),
    # created_date is not in the key: the partition delete needs its own index.
    indexes=(("created_date",), ("user_id",)),
)

TWITCH_CLIPS = TableSpec(
    name="twitch_clips",
    partition_column="created_date",
    columns=(
        not_null("created_date", "date"),
        not_null("id", "text"),
        not_null("url", "text"),
        not_null("embed_url", "text"),
        not_null("broadcaster_id", "text"),
        not_null("broadcaster_name", "text"),
        # creator_id and game_id carry no FK: clips are fetched per broadcaster, and neither the
        # clip's creator nor its game is guaranteed to be among the users/games extracted that day.
        not_null("creator_id", "text"),
        not_null("creator_name", "text"),
        Column("video_id", "text"),  # "" (VOD unavailable) is stored as NULL
        Column("game_id", "text"),  # "" is stored as NULL
        not_null("language", "text"),
        not_null("title", "text"),
        not_null("view_count", "bigint"),
        not_null("created_at", "timestamp"),
        not_null("thumbnail_url", "text"),
        not_null("duration_seconds", "double"),  # float seconds, 0.1 s precision
        Column("vod_offset", "bigint"),  # seconds into the VOD; NULL when no VOD or not computed
        Column("is_featured", "boolean"),  # newer field; NULL if the API does not send it
        not_null("extracted_at", "timestamp"),
    ),
    primary_key=("id",),
    foreign_keys=(ForeignKey(("broadcaster_id",), "twitch_users", ("id",)),),
    indexes=(("created_date",), ("broadcaster_id",)),
)

# Dependency order: dimensions before the facts that reference them.
TWITCH_TABLES: tuple[TableSpec, ...] = (
    TWITCH_USERS,
    TWITCH_GAMES,
    TWITCH_STREAMS,
    TWITCH_VIDEOS,
    TWITCH_CLIPS,
)
TABLES_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TWITCH_TABLES}
