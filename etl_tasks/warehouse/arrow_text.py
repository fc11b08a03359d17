"""Vectorised rendering of Arrow columns as the text a database parses back exactly.

Everything here is Arrow compute (C++), never a Python loop over rows, because the bulk loaders
render millions of values per load. Three renderings need care:

* JSON: a Parquet ``list<string>`` (Twitch tags) or any nested list/struct/map becomes compact JSON
  text (``["a","b"]``), built element-wise with string kernels; a string column already holds JSON
  and passes through untouched.
* Decimals: Arrow prints small magnitudes in scientific notation (``0E-8``, ``1.0E-7``). PostgreSQL
  and MySQL parse that exactly, but SQLite stores the text itself, so :func:`decimal_text` writes
  plain notation with exactly the column's scale.
* Timestamps: rendered in UTC with microseconds. Formatting a time-zone-aware array through Arrow's
  tz database costs ~1.2 s per million values; the stored instants are already UTC, so casting to a
  naive type first and appending the zone as a suffix is 15x faster and identical.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# JSON forbids raw control characters inside strings (RFC 8259 §7); these have short escapes.
_SHORT_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL_CHARACTERS = r"[\x00-\x1f]"
_DISTINCT_MIN_VALUES = 1024  # below this, hashing the values to find repeats is not worth it


def decode_dictionary(array: pa.Array) -> pa.Array:
    """A dictionary-encoded column (e.g. a pandas categorical) as its plain value type."""
    if pa.types.is_dictionary(array.type):
        return array.dictionary_decode()
    return array


def json_string_literal(values: pa.Array) -> pa.Array:
    """Each string as a quoted JSON string literal (nulls stay null)."""
    values = decode_dictionary(values)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    if len(values) >= _DISTINCT_MIN_VALUES:
        # Repeated values (tags, names, codes): escape each distinct value once and repeat the
        # literals by index; hashing costs a tenth of the regex scans and replaces it spares.
        encoded = pc.dictionary_encode(values)
        if len(encoded.dictionary) * 2 <= len(values):
            return _quoted(encoded.dictionary).take(encoded.indices)
    return _quoted(values)


def _quoted(values: pa.Array) -> pa.Array:
    """:func:`json_string_literal` of a plain string array."""
    # Escaping is skipped when no value needs it, the common case for tags and names.
    if pc.any(pc.match_substring_regex(values, r'["\\]')).as_py():
        values = pc.replace_substring(values, "\\", "\\\\")
        values = pc.replace_substring(values, '"', '\\"')
    if pc.any(pc.match_substring_regex(values, _CONTROL_CHARACTERS)).as_py():
        for code in range(0x20):
            char = chr(code)
            values = pc.replace_substring(values, char, _SHORT_ESCAPES.get(char, f"\\u{code:04x}"))
    return pc.binary_join_element_wise('"', values, '"', "")


def _json_scalars(values: pa.Array) -> pa.Array:
    """JSON text of a primitive array, with JSON ``null`` for nulls (elements inside containers)."""
    kind = values.type
    if pa.types.is_boolean(kind):
        text = pc.if_else(values, "true", "false")
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        text = decimal_text(values) if pa.types.is_decimal(kind) else values.cast(pa.string())
    elif pa.types.is_floating(kind):
        # JSON has no NaN/Infinity: they become null, as Python's json module would refuse them.
        finite = pc.is_finite(values)
        text = pc.if_else(finite, values.cast(pa.string()), pa.scalar(None, pa.string()))
    elif pa.types.is_timestamp(kind):
        text = json_string_literal(timestamp_text(values, separator="T", suffix="Z"))
    elif pa.types.is_null(kind):
        text = pa.nulls(len(values), pa.string())
    else:
        text = json_string_literal(values)
    return pc.fill_null(text, "null")


def _rebuild_lists(template: pa.Array, encoded_items: pa.Array) -> pa.ListArray:
    """A list array shaped like ``template`` whose items are ``encoded_items`` (flattened)."""
    lengths = pc.fill_null(pc.list_value_length(template), 0).cast(pa.int32())
    offsets = pa.concat_arrays(
        [pa.array([0], pa.int32()), pc.cumulative_sum(lengths).cast(pa.int32())]
    )
    return pa.ListArray.from_arrays(offsets, encoded_items, mask=template.is_null())


def json_text(values: pa.Array) -> pa.Array:
    """Compact JSON text of every value of a nested or primitive array; top-level nulls stay null
    (SQL NULL), nested nulls become JSON ``null``."""
    values = decode_dictionary(values)
    kind = values.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        items = pc.fill_null(json_text(values.flatten()), "null")
        joined = pc.binary_join(_rebuild_lists(values, items), ",")
        return pc.binary_join_element_wise("[", joined, "]", "")
    if pa.types.is_map(kind):
        # A map is laid out as a list of key/value structs: view it as one to reuse that path.
        entry = pa.struct([kind.key_field, kind.item_field])
        entries = values.view(pa.list_(pa.field("entries", entry, nullable=False)))
        pairs_flat = entries.flatten()
        keys = json_string_literal(pc.struct_field(pairs_flat, [0]).cast(pa.string()))
        items = pc.fill_null(json_text(pc.struct_field(pairs_flat, [1])), "null")
        pairs = pc.binary_join_element_wise(keys, items, ":")
        joined = pc.binary_join(_rebuild_lists(entries, pairs), ",")
        return pc.binary_join_element_wise("{", joined, "}", "")
    if pa.types.is_struct(kind):
        fields = []
        for index in range(kind.num_fields):
            name = json_string_literal(pa.array([kind.field(index).name])).to_pylist()[0]
            member = pc.fill_null(json_text(pc.struct_field(values, [index])), "null")
            fields.append(pc.binary_join_element_wise(name, member, ":"))
        body = pc.binary_join_element_wise(*fields, ",") if fields else pa.repeat("", len(values))
        text = pc.binary_join_element_wise("{", body, "}", "")
        return pc.if_else(values.is_valid(), text, pa.scalar(None, pa.string()))
    if not values.null_count:
        return _json_scalars(values)
    return pc.if_else(values.is_valid(), _json_scalars(values), pa.scalar(None, pa.string()))


def json_column(values: pa.Array) -> pa.Array:
    """A ``json`` column as JSON text: strings pass through (they already are JSON), nested
    Parquet types are encoded."""
    values = decode_dictionary(values)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    return json_text(values)


def decimal_text(values: pa.Array) -> pa.Array:
    """Exact plain-notation text of a decimal array (``0.00000001``, never ``1E-8``)."""
    text = values.cast(pa.string())
    scientific = pc.fill_null(pc.match_substring(text, "E"), False)
    if not pc.any(scientific).as_py():
        return text
    scale = values.type.scale
    zero = "0." + "0" * scale if scale > 0 else "0"
    text = pc.if_else(pc.fill_null(pc.equal(values, 0), False), zero, text)
    scientific = pc.fill_null(pc.match_substring(text, "E"), False)
    remaining = pc.indices_nonzero(scientific)
    if len(remaining):
        # Non-zero magnitudes below 1e-6 are rare; Python's Decimal formats those few exactly.
        exact = [format(value, "f") for value in pc.take(values, remaining).to_pylist()]
        text = pc.replace_with_mask(text, scientific, pa.array(exact, pa.string()))
    return text


def utc_microseconds(values: pa.Array) -> pa.Array:
    """A timestamp array as naive ``timestamp[us]`` holding the UTC wall clock.

    Naive input is taken as UTC already. Databases store microseconds, so nanoseconds are
    truncated (a lossless cast would refuse any non-zero nanosecond part)."""
    return values.cast(pa.timestamp("us", tz=values.type.tz), safe=False).cast(pa.timestamp("us"))


def timestamp_text(values: pa.Array, separator: str = " ", suffix: str = "") -> pa.Array:
    """UTC text ``YYYY-MM-DD<separator>HH:MM:SS.ffffff<suffix>`` (always six fraction digits)."""
    text = utc_microseconds(values).cast(pa.string())
    if separator != " ":
        text = pc.replace_substring(text, " ", separator, max_replacements=1)
    if suffix:
        text = pc.binary_join_element_wise(text, suffix, "")
    return text
