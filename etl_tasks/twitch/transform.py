"""Pure transforms of the Twitch pipeline: raw extract table in, warehouse-shaped table out.

Each ``transform_<entity>(raw, date)`` takes a table in the raw extract schema
(:mod:`etl_tasks.twitch.raw_schema`) and returns ``(table, metadata)``: the table has exactly the
columns of the entity's :class:`TableSpec` (:mod:`etl_tasks.twitch.tables`) in order, typed by
:func:`etl_tasks.warehouse.model.arrow_schema`, de-duplicated by primary key and sorted by it (MySQL
loads rows sorted by key far faster, and sorted output makes reruns byte-identical). No Luigi, no
HTTP, no per-row Python: everything is :mod:`pyarrow.compute`.

Rules (api-contract.md A5, DESIGN.md §3):

* RFC3339 strings become ``timestamp[us, UTC]``; a value that is not RFC3339 is a
  :class:`DataQualityError` naming the entity, column and ids.
* Ids the API sends as ``""`` for "none" (``game_id``, ``video_id``, ``stream_id``, ``igdb_id``)
  become NULL; every other text, empty or not, is passed through byte for byte (tabs, newlines,
  backslashes, quotes, ``\\N``, ``NULL``, emoji).
* JSON columns (``tags``, ``muted_segments``) are the extract's compact JSON text, passed through,
  so NULL stays NULL and ``[]`` stays ``"[]"``. ``tag_ids`` (deprecated, always ``[]``) and users'
  ``view_count`` (deprecated, meaningless) are dropped; ``is_mature`` is kept.
* Videos' ``duration`` (``1h2m7s``) becomes integer ``duration_seconds``; clips' float seconds stay
  a double.
* Streams are a snapshot: every raw row's ``captured_at`` must fall on the partition's UTC date,
  otherwise the transform refuses (a snapshot is never relabelled). A live list paged while viewer
  counts move returns the same stream on several pages; the copy kept is the most recent
  observation: latest ``captured_at``, then highest ``page``, then highest ``viewer_count``.
* Videos and clips keep only rows created on the partition's UTC date (the extract may over-fetch);
  duplicates keep the latest ``extracted_at``. Users and games likewise.

Referential checks are separate functions (:func:`check_references`, :func:`check_foreign_keys`) so
the transform of one entity never needs another entity's data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from etl_tasks.errors import DataQualityError
from etl_tasks.twitch.raw_schema import TIMESTAMP_UTC, raw_schema
from etl_tasks.twitch.tables import (
    TWITCH_CLIPS,
    TWITCH_GAMES,
    TWITCH_STREAMS,
    TWITCH_USERS,
    TWITCH_VIDEOS,
)
from etl_tasks.warehouse.model import TableSpec, arrow_schema

TransformResult = tuple[pa.Table, dict[str, Any]]

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
# Arrow parses at most microseconds; Twitch sometimes sends nanoseconds. Truncate, never round,
# so a timestamp just before midnight stays on its date.
SUB_MICROSECOND = r"(\.\d{6})\d+"
# Twitch's own duration form: each part optional, in this order, at least one present.
VIDEO_DURATION = r"^(?:(?P<hours>\d{1,9})h)?(?:(?P<minutes>\d{1,9})m)?(?:(?P<seconds>\d{1,9})s)?$"
MAX_IDS_SHOWN = 10


def _show_ids(ids: pa.Array | pa.ChunkedArray) -> str:
    values = ids.to_pylist()
    shown = ", ".join(repr(value) for value in values[:MAX_IDS_SHOWN])
    more = f" (first {MAX_IDS_SHOWN} of {len(values)})" if len(values) > MAX_IDS_SHOWN else ""
    return shown + more


def _conform(raw: pa.Table, entity: str) -> pa.Table:
    """``raw`` reduced to the raw schema's columns, in order, with its types."""
    schema = raw_schema(entity)
    missing = [name for name in schema.names if name not in raw.column_names]
    if missing:
        raise DataQualityError(
            f"raw {entity} table lacks columns {missing}: it was not written by this version of "
            "the extract; re-run the extract for this date"
        )
    try:
        return raw.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DataQualityError(
            f"raw {entity} table does not match the raw schema ({exc}); re-run the extract for "
            "this date"
        ) from exc


def _timestamps(table: pa.Table, column: str, entity: str) -> pa.ChunkedArray:
    """Parse an RFC3339 string column to UTC timestamps."""
    text = table[column]
    bad = pc.invert(pc.fill_null(pc.match_substring_regex(text, RFC3339), True))
    if pc.any(bad).as_py():
        raise DataQualityError(
            f"{entity}.{column} is not an RFC3339 timestamp for ids "
            f"{_show_ids(table['id'].filter(bad))}: values {_show_ids(text.filter(bad))}; "
            "the API broke its contract - inspect the raw extract partition and re-extract"
        )
    try:
        return pc.cast(pc.replace_substring_regex(text, SUB_MICROSECOND, r"\1"), TIMESTAMP_UTC)
    except pa.ArrowInvalid as exc:
        raise DataQualityError(
            f"{entity}.{column} holds an impossible date or time ({exc}); inspect the raw extract "
            "partition and re-extract"
        ) from exc


def _empty_id_to_null(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """``""`` means "no such id" in Helix; store it as NULL so foreign keys hold."""
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)


def _constant(value: Any, type_: pa.DataType, length: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, type_), length)


def _latest_per_key(table: pa.Table, key: str, newest_first: list[str]) -> tuple[pa.Table, int]:
    """One row per ``key`` (the first after ordering by ``newest_first`` columns descending),
    sorted by ``key``. Returns the table and the number of rows dropped."""
    if table.num_rows == 0:
        return table, 0
    order = [(key, "ascending")] + [(column, "descending") for column in newest_first]
    ordered = table.take(pc.sort_indices(table, sort_keys=order))
    keys = ordered[key].combine_chunks()
    first = pa.concat_arrays([pa.array([True]), pc.not_equal(keys[1:], keys[:-1])])
    kept = ordered.filter(first)
    return kept, table.num_rows - kept.num_rows


def _on_date(timestamps: pa.ChunkedArray, date: dt.date) -> pa.ChunkedArray:
    return pc.equal(pc.cast(timestamps, pa.date32()), pa.scalar(date, pa.date32()))


def _finish(
    spec: TableSpec, columns: Mapping[str, Any], metadata: dict[str, Any]
) -> TransformResult:
    """Assemble ``columns`` in the spec's order and schema; refuse NULLs in NOT NULL columns."""
    schema = arrow_schema(spec)
    table = pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)
    for column in spec.columns:
        if not column.nullable and table[column.name].null_count:
            raise DataQualityError(
                f"{spec.name}.{column.name} is NULL for ids "
                f"{_show_ids(table['id'].filter(pc.is_null(table[column.name])))}; the column is "
                "NOT NULL - inspect the raw extract partition and re-extract"
            )
    metadata["output_rows"] = table.num_rows
    metadata["null_counts"] = {
        column.name: table[column.name].null_count for column in spec.columns if column.nullable
    }
    return table, metadata


def _metadata(entity: str, date: dt.date, raw: pa.Table) -> dict[str, Any]:
    return {
        "entity": entity,
        "date": date.isoformat(),
        "input_rows": raw.num_rows,
        "duplicates_dropped": 0,
        "out_of_date_dropped": 0,
    }


def transform_users(raw: pa.Table, date: dt.date) -> TransformResult:
    """Users seen on ``date``: one row per id (latest extracted), ``last_seen_date = date``."""
    metadata = _metadata("users", date, raw)
    table, metadata["duplicates_dropped"] = _latest_per_key(
        _conform(raw, "users"), "id", ["extracted_at"]
    )
    columns = {name: table[name] for name in table.column_names}
    columns["created_at"] = _timestamps(table, "created_at", "users")
    columns["last_seen_date"] = _constant(date, pa.date32(), table.num_rows)
    return _finish(TWITCH_USERS, columns, metadata)


def transform_games(raw: pa.Table, date: dt.date) -> TransformResult:
    """Games seen on ``date`` (Get Games and Top Games overlap): one row per id."""
    metadata = _metadata("games", date, raw)
    table, metadata["duplicates_dropped"] = _latest_per_key(
        _conform(raw, "games"), "id", ["extracted_at"]
    )
    columns = {name: table[name] for name in table.column_names}
    columns["igdb_id"] = _empty_id_to_null(table["igdb_id"])
    columns["last_seen_date"] = _constant(date, pa.date32(), table.num_rows)
    return _finish(TWITCH_GAMES, columns, metadata)


def _check_snapshot_date(raw: pa.Table, date: dt.date) -> None:
    captured_dates = pc.unique(pc.cast(raw["captured_at"], pa.date32()))
    wrong = sorted(day for day in captured_dates.to_pylist() if day != date)
    if wrong:
        captured = ", ".join(day.isoformat() for day in wrong)
        raise DataQualityError(
            f"snapshot captured on {captured} labelled {date.isoformat()}: a live streams snapshot "
            "belongs to the UTC date the API's clock showed when it was taken and is never "
            f"relabelled; delete the streams extract partition of {date.isoformat()} and extract "
            "it while that date is current (or run the date the snapshot was captured on)"
        )


def transform_streams(raw: pa.Table, date: dt.date) -> TransformResult:
    """The live-streams snapshot of ``date``: one row per stream id, the freshest observation."""
    metadata = _metadata("streams", date, raw)
    table = _conform(raw, "streams")
    _check_snapshot_date(table, date)
    table, metadata["duplicates_dropped"] = _latest_per_key(
        table, "id", ["captured_at", "page", "viewer_count"]
    )
    columns = {name: table[name] for name in table.column_names}
    columns["snapshot_date"] = _constant(date, pa.date32(), table.num_rows)
    columns["game_id"] = _empty_id_to_null(table["game_id"])
    columns["started_at"] = _timestamps(table, "started_at", "streams")
    if table.num_rows:
        metadata["captured_from"] = pc.min(table["captured_at"]).as_py().isoformat()
        metadata["captured_to"] = pc.max(table["captured_at"]).as_py().isoformat()
    return _finish(TWITCH_STREAMS, columns, metadata)


def video_duration_seconds(durations: pa.ChunkedArray, ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """Twitch's ``XhYmZs`` durations (``1h2m7s``, ``3m21s``, ``45s``) as integer seconds.

    Raises :class:`DataQualityError` naming the video ids whose duration does not parse."""
    parts = pc.extract_regex(durations, VIDEO_DURATION)
    invalid = pc.fill_null(pc.or_(pc.is_null(parts), pc.equal(durations, "")), True)
    if pc.any(invalid).as_py():
        raise DataQualityError(
            f"videos.duration does not parse as XhYmZs for video ids "
            f"{_show_ids(ids.filter(invalid))}: values {_show_ids(durations.filter(invalid))}; "
            "the API changed its duration format - update VIDEO_DURATION in twitch/transform.py"
        )
    total = pa.scalar(0, pa.int64())
    for name, factor in (("hours", 3600), ("minutes", 60), ("seconds", 1)):
        digits = pc.struct_field(parts, name)
        amount = pc.cast(pc.if_else(pc.equal(digits, ""), "0", digits), pa.int64())
        total = pc.add(total, pc.multiply(amount, factor))
    return total


def _created_on(
    entity: str, raw: pa.Table, date: dt.date, metadata: dict[str, Any]
) -> tuple[pa.Table, pa.ChunkedArray]:
    """Rows of ``raw`` created on ``date`` (UTC), de-duplicated, and their parsed created_at."""
    table = _conform(raw, entity)
    created_at = _timestamps(table, "created_at", entity)
    on_date = _on_date(created_at, date)
    table = table.append_column("created_at_utc", created_at).filter(on_date)
    metadata["out_of_date_dropped"] = raw.num_rows - table.num_rows
    table, metadata["duplicates_dropped"] = _latest_per_key(table, "id", ["extracted_at"])
    return table, table["created_at_utc"]


def transform_videos(raw: pa.Table, date: dt.date) -> TransformResult:
    """Videos created on ``date`` (UTC): typed, one row per id."""
    metadata = _metadata("videos", date, raw)
    table, created_at = _created_on("videos", raw, date, metadata)
    columns = {name: table[name] for name in table.column_names}
    columns["created_date"] = _constant(date, pa.date32(), table.num_rows)
    columns["stream_id"] = _empty_id_to_null(table["stream_id"])
    columns["created_at"] = created_at
    columns["published_at"] = _timestamps(table, "published_at", "videos")
    columns["duration_seconds"] = video_duration_seconds(table["duration"], table["id"])
    return _finish(TWITCH_VIDEOS, columns, metadata)


def transform_clips(raw: pa.Table, date: dt.date) -> TransformResult:
    """Clips created on ``date`` (UTC): typed, one row per id."""
    metadata = _metadata("clips", date, raw)
    table, created_at = _created_on("clips", raw, date, metadata)
    columns = {name: table[name] for name in table.column_names}
    columns["created_date"] = _constant(date, pa.date32(), table.num_rows)
    columns["video_id"] = _empty_id_to_null(table["video_id"])
    columns["game_id"] = _empty_id_to_null(table["game_id"])
    columns["created_at"] = created_at
    columns["duration_seconds"] = table["duration"]
    return _finish(TWITCH_CLIPS, columns, metadata)


def check_references(
    facts: pa.Table,
    column: str,
    dimension: pa.Table,
    key: str = "id",
    entity: str = "facts",
    dimension_entity: str = "dimension",
) -> int:
    """Every non-null ``facts[column]`` must be a ``dimension[key]``.

    Returns the number of distinct references checked; raises :class:`DataQualityError` listing
    up to 10 missing values (sorted) and how many are missing in total."""
    references = pc.unique(facts[column].drop_null())
    missing = references.filter(pc.invert(pc.is_in(references, value_set=dimension[key])))
    if len(missing):
        missing = pc.take(missing, pc.sort_indices(missing))
        raise DataQualityError(
            f"{entity}.{column}: {len(missing)} value(s) missing from {dimension_entity}.{key}: "
            f"{_show_ids(missing)}; the {dimension_entity} extract of this date must fetch every "
            f"id the {entity} reference - re-run it (and its transform), or check whether the API "
            "still knows these ids"
        )
    return len(references)


def check_foreign_keys(
    spec: TableSpec, facts: pa.Table, dimensions: Mapping[str, pa.Table]
) -> dict[str, int]:
    """Run :func:`check_references` for every foreign key of ``spec``.

    ``dimensions`` maps a referenced table name (e.g. ``twitch_users``) to its transformed table.
    Returns ``{column: distinct references checked}``."""
    checked: dict[str, int] = {}
    for foreign_key in spec.foreign_keys:
        if foreign_key.ref_table not in dimensions:
            raise ValueError(
                f"{spec.name} references {foreign_key.ref_table}; pass its transformed table"
            )
        (column,), (key,) = foreign_key.columns, foreign_key.ref_columns
        checked[column] = check_references(
            facts,
            column,
            dimensions[foreign_key.ref_table],
            key=key,
            entity=spec.name,
            dimension_entity=foreign_key.ref_table,
        )
    return checked
