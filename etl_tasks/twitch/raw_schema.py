"""Arrow schemas of the raw Twitch extract Parquet, and the builder that fills them from API JSON.

The extract stage keeps values close to the wire, so a transform bug can always be fixed by
re-transforming, never by re-fetching:

* ids stay strings (Helix ids are opaque, api-contract.md A2) and timestamps stay RFC3339 strings;
  the transform parses them.
* arrays (``tags``, ``tag_ids``, ``muted_segments``) are stored as compact JSON text
  (``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``), e.g. ``'["Português"]'``.
  JSON text rather than Arrow list types because it keeps ``null`` and ``[]`` apart without a
  nested type, and the warehouse stores these columns as JSON anyway, so the transform passes the
  text through untouched instead of re-serialising it row by row.
* every row carries ``extracted_at`` (when the extract ran); stream rows also carry ``captured_at``
  (the API's own clock, from the response ``Date`` header, DESIGN.md §3) and ``page`` (1-based page
  number of the walk), which the transform uses to keep the freshest copy of a duplicated stream.

A field is non-nullable in these schemas exactly when the API guarantees it (api-contract.md A5)
and the warehouse column is NOT NULL; such a key missing from an API item is a malformed page.
Deprecated or newer fields (``view_count`` of users, ``tag_ids``, ``is_mature``, ``is_featured``)
are nullable so their disappearance from the API does not break the extract. ``email`` of users is
not kept: app tokens never receive it and the project has no use for personal data.

Schema drift: the API adds fields over time (api-contract.md: "treat unknown JSON fields as
ignorable"). Ignorable for the warehouse, but never silently lost: every key the contract does not
list is kept in the row's ``unknown_fields`` column (compact JSON object text, null when none), and
its name is collected so the extract can record it in its sidecar and the report. A required field
that disappears or changes type fails the page with a message naming the entity, the field and the
first offending item's id.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from etl_tasks.errors import FatalExtractError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TIMESTAMP_UTC = pa.timestamp("us", tz="UTC")

# Wire kinds: how a JSON value is checked and which Arrow type holds it.
STRING, INT, FLOAT, BOOL, STRING_LIST, MUTED_SEGMENTS = (
    "string",
    "int",
    "float",
    "bool",
    "string_list",
    "muted_segments",
)
ARROW_TYPE_OF_KIND: dict[str, pa.DataType] = {
    STRING: pa.string(),
    INT: pa.int64(),
    FLOAT: pa.float64(),
    BOOL: pa.bool_(),
    STRING_LIST: pa.string(),  # JSON text
    MUTED_SEGMENTS: pa.string(),  # JSON text
}

# entity -> ((field, wire kind, required), ...) in api-contract.md A5 order.
API_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "users": (
        ("id", STRING, True),
        ("login", STRING, True),
        ("display_name", STRING, True),
        ("type", STRING, True),
        ("broadcaster_type", STRING, True),
        ("description", STRING, True),
        ("profile_image_url", STRING, True),
        ("offline_image_url", STRING, True),
        ("view_count", INT, False),
        ("created_at", STRING, True),
    ),
    "games": (
        ("id", STRING, True),
        ("name", STRING, True),
        ("box_art_url", STRING, True),
        ("igdb_id", STRING, False),
    ),
    "streams": (
        ("id", STRING, True),
        ("user_id", STRING, True),
        ("user_login", STRING, True),
        ("user_name", STRING, True),
        ("game_id", STRING, False),
        ("game_name", STRING, True),
        ("type", STRING, True),
        ("title", STRING, True),
        ("tags", STRING_LIST, False),
        ("viewer_count", INT, True),
        ("started_at", STRING, True),
        ("language", STRING, True),
        ("thumbnail_url", STRING, True),
        ("tag_ids", STRING_LIST, False),
        ("is_mature", BOOL, False),
    ),
    "videos": (
        ("id", STRING, True),
        ("stream_id", STRING, False),
        ("user_id", STRING, True),
        ("user_login", STRING, True),
        ("user_name", STRING, True),
        ("title", STRING, True),
        ("description", STRING, True),
        ("created_at", STRING, True),
        ("published_at", STRING, True),
        ("url", STRING, True),
        ("thumbnail_url", STRING, True),
        ("viewable", STRING, True),
        ("view_count", INT, True),
        ("language", STRING, True),
        ("type", STRING, True),
        ("duration", STRING, True),
        ("muted_segments", MUTED_SEGMENTS, False),
    ),
    "clips": (
        ("id", STRING, True),
        ("url", STRING, True),
        ("embed_url", STRING, True),
        ("broadcaster_id", STRING, True),
        ("broadcaster_name", STRING, True),
        ("creator_id", STRING, True),
        ("creator_name", STRING, True),
        ("video_id", STRING, False),
        ("game_id", STRING, False),
        ("language", STRING, True),
        ("title", STRING, True),
        ("view_count", INT, True),
        ("created_at", STRING, True),
        ("thumbnail_url", STRING, True),
        ("duration", FLOAT, True),
        ("vod_offset", INT, False),
        ("is_featured", BOOL, False),
    ),
}

# Columns the extract adds to every row of an entity, in schema order after the API fields.
STAMP_FIELDS: dict[str, tuple[pa.Field, ...]] = {
    entity: (pa.field("extracted_at", TIMESTAMP_UTC, nullable=False),) for entity in API_FIELDS
}
STAMP_FIELDS["streams"] = (
    pa.field("extracted_at", TIMESTAMP_UTC, nullable=False),
    pa.field("captured_at", TIMESTAMP_UTC, nullable=False),
    pa.field("page", pa.int32(), nullable=False),
)

ENTITIES: tuple[str, ...] = tuple(API_FIELDS)
UNKNOWN_FIELDS_COLUMN = "unknown_fields"
# Keys the contract documents but the project deliberately does not keep (not drift).
DROPPED_FIELDS: dict[str, frozenset[str]] = {"users": frozenset({"email"})}
KNOWN_FIELDS: dict[str, frozenset[str]] = {
    entity: frozenset(name for name, _, _ in fields) | DROPPED_FIELDS.get(entity, frozenset())
    for entity, fields in API_FIELDS.items()
}
# Python types a JSON value of each scalar kind may have (bool is not an int here: JSON true is
# not a count); used by the fast path, which falls back to the precise check on anything else.
FAST_TYPES: dict[str, frozenset[type]] = {
    STRING: frozenset({str}),
    INT: frozenset({int}),
    FLOAT: frozenset({int, float}),
    BOOL: frozenset({bool}),
}


def _build_schema(entity: str) -> pa.Schema:
    api = [
        pa.field(name, ARROW_TYPE_OF_KIND[kind], nullable=not required)
        for name, kind, required in API_FIELDS[entity]
    ]
    unknown = pa.field(UNKNOWN_FIELDS_COLUMN, pa.string(), nullable=True)
    return pa.schema([*api, unknown, *STAMP_FIELDS[entity]])


RAW_SCHEMAS: dict[str, pa.Schema] = {entity: _build_schema(entity) for entity in API_FIELDS}


def raw_schema(entity: str) -> pa.Schema:
    """The raw extract schema of ``entity`` (users, games, streams, videos, clips)."""
    try:
        return RAW_SCHEMAS[entity]
    except KeyError:
        raise ValueError(f"unknown Twitch entity {entity!r}; expected one of {ENTITIES}") from None


def _describe(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{shown} ({type(value).__name__})"


def _check_string(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _check_int(value: Any) -> str | None:
    # bool is an int subclass in Python, but JSON true is not a count.
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return None
    return "an integer (64-bit)"


def _check_float(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None
    return "a number"


def _check_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "a boolean"


def _check_string_list(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return None
    return "an array of strings"


def _check_muted_segments(value: Any) -> str | None:
    if isinstance(value, list) and all(
        isinstance(item, dict)
        and _check_int(item.get("duration")) is None
        and _check_int(item.get("offset")) is None
        for item in value
    ):
        return None
    return "an array of {duration: int, offset: int} objects"


CHECKS: dict[str, Callable[[Any], str | None]] = {
    STRING: _check_string,
    INT: _check_int,
    FLOAT: _check_float,
    BOOL: _check_bool,
    STRING_LIST: _check_string_list,
    MUTED_SEGMENTS: _check_muted_segments,
}


# One encoder for every value: ``json.dumps`` with options builds a new encoder per call, which
# was most of the cost of a stream page (its tags).
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_QUOTE_JSON_STRING = json.encoder.encode_basestring  # what that encoder quotes strings with


def _to_json_text(kind: str, value: Any) -> str:
    if kind == MUTED_SEGMENTS:
        # Keep only the documented keys, in a fixed order, so equal segments give equal text.
        value = [{"duration": item["duration"], "offset": item["offset"]} for item in value]
    return _COMPACT_JSON(value)


def _string_lists(raw: list[Any]) -> pa.Array | None:
    """The fast path of a string-list column (every value a list of str, or None): the JSON
    texts, as :data:`_COMPACT_JSON` writes them; None when any value needs the precise check.

    Each string is quoted by the json module's C quoting function (which refuses anything but a
    str) and joined: the same text as encoding the list, without building an encoder per row."""
    if any(value is not None and type(value) is not list for value in raw):
        return None
    try:
        texts = [
            None if value is None else "[" + ",".join(map(_QUOTE_JSON_STRING, value)) + "]"
            for value in raw
        ]
    except TypeError:  # an item that is not a string
        return None
    return pa.array(texts, type=pa.string())


def _item_id(row: Any) -> str:
    value = row.get("id") if isinstance(row, Mapping) else None
    return f", first offending id {value!r}" if isinstance(value, str) and value else ""


def _malformed(entity: str, where: str, problem: str) -> FatalExtractError:
    return FatalExtractError(
        f"malformed API page: {entity} {where} {problem}; the API answered outside its contract "
        "(api-contract.md A5) - check that TWITCH_API_BASE_URL points at Helix, then retry; "
        "if it persists the API changed and the extract must be updated"
    )


def _column(
    entity: str, rows: list[Mapping[str, Any]], name: str, kind: str, required: bool
) -> pa.Array:
    raw = [row.get(name) for row in rows]
    if kind == STRING_LIST and not (required and None in raw):
        lists = _string_lists(raw)
        if lists is not None:
            return lists
    fast = FAST_TYPES.get(kind)
    if fast is not None and not (required and None in raw):
        types = {type(value) for value in raw} - {type(None)}
        if types <= fast:
            try:
                return pa.array(raw, type=ARROW_TYPE_OF_KIND[kind])
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                pass  # e.g. an integer beyond 64 bits: the precise check below names it
    check = CHECKS[kind]
    values: list[Any] = []
    for index, (row, value) in enumerate(zip(rows, raw, strict=True)):
        if value is None:
            if required:
                state = "is null" if name in row else "is missing"
                raise _malformed(
                    entity, f"data[{index}].{name}", f"{state} (required field){_item_id(row)}"
                )
        else:
            expected = check(value)
            if expected is not None:
                raise _malformed(
                    entity,
                    f"data[{index}].{name}",
                    f"is {_describe(value)}, expected {expected}{_item_id(row)}",
                )
            if kind in (STRING_LIST, MUTED_SEGMENTS):
                value = _to_json_text(kind, value)
        values.append(value)
    return pa.array(values, type=ARROW_TYPE_OF_KIND[kind])


def _utc(name: str, value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"stamp {name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(dt.timezone.utc)


def _stamp_column(field: pa.Field, value: Any, length: int) -> pa.Array:
    if field.type == TIMESTAMP_UTC:
        value = _utc(field.name, value)
    elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"stamp {field.name} must be a positive int, got {value!r}")
    return pa.repeat(pa.scalar(value, type=field.type), length)


def _unknown_column(
    entity: str, rows: list[Mapping[str, Any]], new_fields: set[str] | None
) -> pa.Array:
    """Per row, the keys the contract does not list, as compact JSON (null when none)."""
    known = KNOWN_FIELDS[entity]
    if set().union(*rows) <= known:  # the usual case, checked in one pass over the keys
        return pa.nulls(len(rows), type=pa.string())
    values: list[str | None] = []
    for row in rows:
        extra = row.keys() - known
        if not extra:
            values.append(None)
            continue
        if new_fields is not None:
            new_fields.update(extra)
        kept = {key: row[key] for key in sorted(extra)}
        values.append(json.dumps(kept, ensure_ascii=False, separators=(",", ":"), default=str))
    return pa.array(values, type=pa.string())


def rows_to_table(
    entity: str, rows: list[Any], *, new_fields: set[str] | None = None, **stamps: Any
) -> pa.Table:
    """Build a table with exactly ``raw_schema(entity)`` from the API's ``data[]`` items.

    ``stamps`` are the extract's own columns: ``extracted_at`` (aware datetime) for every entity,
    plus ``captured_at`` (aware datetime, from the response ``Date`` header) and ``page`` (1-based
    int) for streams. Missing optional keys become null; unknown keys are ignored. A required key
    missing or null, a value of the wrong JSON type, or an item that is not an object raises
    :class:`FatalExtractError` naming the entity, the item index, its id and the field.
    Keys the contract does not list go to ``unknown_fields``; their names are added to
    ``new_fields`` when given.
    """
    schema = raw_schema(entity)
    stamp_fields = STAMP_FIELDS[entity]
    expected_stamps = {field.name for field in stamp_fields}
    if set(stamps) != expected_stamps:
        raise ValueError(
            f"{entity} rows need exactly the stamps {sorted(expected_stamps)}, got {sorted(stamps)}"
        )
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise _malformed(entity, f"data[{index}]", f"is {_describe(row)}, expected an object")
    columns = [_column(entity, rows, name, kind, req) for name, kind, req in API_FIELDS[entity]]
    columns.append(_unknown_column(entity, rows, new_fields))
    columns += [_stamp_column(field, stamps[field.name], len(rows)) for field in stamp_fields]
    return pa.Table.from_arrays(columns, schema=schema)
