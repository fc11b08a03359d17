"""Arrow record batches → PostgreSQL's binary COPY format, vectorised (no Python loop per row).

Binary COPY (``COPY … FROM STDIN (FORMAT binary)``) spares the server the CSV parse: each value
arrives in the type's own wire form, which the server checks and stores. Measured against
``psql \\copy`` of a ready CSV file (``python -m benchmarks.load_benchmark --target postgres``),
this is where a loader beats the native client.

The stream is a header, then per row a big-endian ``int16`` field count and, per field, an
``int32`` byte length (``-1`` for NULL) followed by the bytes; then the ``int16`` trailer ``-1``.
Every field is built as one Arrow binary array (length prefix included) with numpy and Arrow
kernels, and the fields of a batch are joined row-wise by ``binary_join_element_wise``, whose
data buffer then *is* the batch's COPY payload.

Wire forms (PostgreSQL's ``*_send``/``*_recv`` functions):

* text: the UTF-8 bytes as they are — NULL is the length ``-1``, ``''`` the length 0, so the two
  never meet, and no byte is escaped or interpreted;
* bigint / integer / double / boolean: 8 / 4 / 8 / 1 bytes, big-endian IEEE for doubles;
* date: days since 2000-01-01 (``int32``); timestamptz: microseconds since 2000-01-01 UTC;
* jsonb: the version byte ``\\x01`` then the JSON text (lists and structs encoded as for CSV);
* numeric: ``ndigits, weight, sign, dscale`` (``int16`` each) then base-10000 digits. Every value
  of a column is written with the same number of digit groups (leading/trailing zero groups
  included); ``numeric_recv`` strips them and applies the column's typmod (rounding and overflow
  checks as for text input), so the stored value is exactly the Decimal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.arrow_text import decode_dictionary, json_column, utc_microseconds
from etl_tasks.warehouse.model import DECIMAL_TYPE, TableSpec

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = b"\xff\xff"
_NULL_FIELD = b"\xff\xff\xff\xff"
_PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01
_PG_EPOCH_MICROSECONDS = _PG_EPOCH_DAYS * 86_400 * 1_000_000
_JSONB_VERSION = b"\x01"
_NO_SEPARATOR = pa.scalar(b"", pa.large_binary())
_NUMERIC_NEGATIVE = 0x4000
_FIXED_WIDTH = {  # logical type -> (numpy big-endian dtype, Arrow type to cast to first)
    "bigint": (">i8", pa.int64()),
    "integer": (">i4", pa.int32()),
    "double": (">f8", pa.float64()),
    "boolean": ("u1", pa.uint8()),
}


def _binary_from_rows(rows: np.ndarray) -> pa.Array:
    """A binary array whose values are the rows of the 2-D ``uint8`` array ``rows``."""
    count, width = rows.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.large_binary(),
        count,
        [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(rows))],
    )


def _with_nulls(fields: pa.Array, valid: pa.Array | None) -> pa.Array:
    """``fields`` with the NULL field (length -1) wherever ``valid`` is false."""
    if valid is None:
        return fields
    return pc.if_else(valid, fields, pa.scalar(_NULL_FIELD, pa.large_binary()))


def _validity(values: pa.Array) -> pa.Array | None:
    return values.is_valid() if values.null_count else None


def _fixed_fields(payload: np.ndarray, valid: pa.Array | None) -> pa.Array:
    """Fields of a fixed-width type: ``payload`` is ``(rows, width)`` bytes, big-endian."""
    count, width = payload.shape
    rows = np.empty((count, 4 + width), dtype=np.uint8)
    rows[:, :4] = np.frombuffer(np.array([width], dtype=">i4").tobytes(), dtype=np.uint8)
    rows[:, 4:] = payload
    return _with_nulls(_binary_from_rows(rows), valid)


def _numbers(values: pa.Array, numpy_type: str) -> np.ndarray:
    """The values (nulls as 0) as ``(rows, width)`` big-endian bytes."""
    filled = pc.fill_null(values, 0) if values.null_count else values
    array = filled.to_numpy(zero_copy_only=False).astype(numpy_type, copy=False)
    return array.view(np.uint8).reshape(len(values), -1)


def _variable_fields(payload: pa.Array, extra_prefix: bytes = b"") -> list[pa.Array]:
    """Fields of a variable-length type as two arrays for the row join: the length prefix with
    ``extra_prefix`` (the NULL field where the value is null), and the value's bytes (null where
    the value is null, which the row join skips). Joining the two only in the row join copies
    each value once instead of twice."""
    payload = payload.cast(pa.large_binary())
    lengths = pc.binary_length(payload).fill_null(0).to_numpy(zero_copy_only=False)
    prefix_rows = np.empty((len(payload), 4 + len(extra_prefix)), dtype=np.uint8)
    lengths = (lengths + len(extra_prefix)).astype(">i4")
    prefix_rows[:, :4] = lengths.view(np.uint8).reshape(-1, 4)
    if extra_prefix:
        prefix_rows[:, 4:] = np.frombuffer(extra_prefix, dtype=np.uint8)
    return [_with_nulls(_binary_from_rows(prefix_rows), _validity(payload)), payload]


def _divmod_limbs(limbs: list[np.ndarray], divisor: int) -> np.ndarray:
    """Divide the unsigned 128-bit numbers held as four uint32 limbs (most significant first,
    each in a uint64 array) by ``divisor`` in place; return the remainders."""
    remainder = np.zeros_like(limbs[0])
    for index, limb in enumerate(limbs):
        current = (remainder << np.uint64(32)) | limb
        limbs[index] = current // np.uint64(divisor)
        remainder = current % np.uint64(divisor)
    return remainder


def _numeric_fields(values: pa.Array) -> pa.Array:
    """Fields of a ``numeric`` column from a decimal128 array (see the module docstring)."""
    precision, scale = values.type.precision, values.type.scale
    count = len(values)
    fraction_groups = math.ceil(scale / 4) if scale > 0 else 0
    integer_groups = math.ceil(max(precision - scale, 0) / 4)
    groups = max(fraction_groups + integer_groups, 1)
    filled = pc.fill_null(values, pa.scalar(0, values.type)) if values.null_count else values
    words = np.frombuffer(filled.buffers()[1], dtype="<u8")
    words = words[2 * filled.offset : 2 * (filled.offset + count)].reshape(count, 2)
    low, high = words[:, 0].copy(), words[:, 1].copy()
    negative = (high >> np.uint64(63)).astype(bool)
    # Two's complement: |x| = ~x + 1 over 128 bits.
    negated_low = ~low + np.uint64(1)
    negated_high = ~high + (negated_low == 0).astype(np.uint64)
    low = np.where(negative, negated_low, low)
    high = np.where(negative, negated_high, high)
    mask = np.uint64(0xFFFFFFFF)
    limbs = [high >> np.uint64(32), high & mask, low >> np.uint64(32), low & mask]
    digits = np.zeros((count, groups), dtype=">u2")
    column = groups - 1  # least significant group first
    partial = scale % 4
    if partial:  # the last fraction group holds only ``partial`` digits of the value
        digits[:, column] = _divmod_limbs(limbs, 10**partial) * 10 ** (4 - partial)
        column -= 1
    while column >= 0:
        digits[:, column] = _divmod_limbs(limbs, 10_000)
        column -= 1
    header = np.empty((count, 4), dtype=">u2")
    header[:, 0] = groups
    header[:, 1] = (groups - fraction_groups - 1) & 0xFFFF  # weight of the first group, int16
    header[:, 2] = np.where(negative, _NUMERIC_NEGATIVE, 0)
    header[:, 3] = scale
    payload = np.concatenate([header.view(np.uint8), digits.view(np.uint8)], axis=1)
    return _fixed_fields(payload, _validity(values))


def _as_type(values: pa.Array, wanted: pa.DataType, column: str, logical: str) -> pa.Array:
    if values.type == wanted:
        return values
    try:
        return values.cast(wanted)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise LoadError(
            f"column {column}: cannot send {values.type} values as {logical} ({error}); the "
            "transform must write the column's Arrow type (etl_tasks.warehouse.base.arrow_schema)"
        ) from error


def _decimal_input(values: pa.Array, logical: str, column: str) -> pa.Array:
    if pa.types.is_decimal128(values.type):
        return values
    match = DECIMAL_TYPE.match(logical)
    assert match is not None
    precision, scale = int(match.group(1)), int(match.group(2))
    if pa.types.is_decimal(values.type) and values.type.precision <= 38:
        return values.cast(pa.decimal128(values.type.precision, values.type.scale))
    if pa.types.is_floating(values.type):
        values = values.cast(pa.string())  # shortest round-trip text, as the CSV path sent
    return _as_type(values, pa.decimal128(max(precision, 38), scale), column, logical)


def encode_column(values: pa.Array, logical: str, column: str = "") -> list[pa.Array]:
    """One column of a batch as binary COPY fields (length prefix included), in one or more
    arrays whose row-wise concatenation, nulls skipped, is the field."""
    values = decode_dictionary(values)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if logical == "text":
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = values.cast(pa.string())
        return _variable_fields(values)
    if logical == "json":
        return _variable_fields(json_column(values), _JSONB_VERSION)
    if logical in _FIXED_WIDTH:
        numpy_type, arrow = _FIXED_WIDTH[logical]
        values = _as_type(values, arrow if logical != "boolean" else pa.bool_(), column, logical)
        if logical == "boolean":
            values = values.cast(pa.uint8())
        return [_fixed_fields(_numbers(values, numpy_type), _validity(values))]
    if logical == "date":
        if pa.types.is_timestamp(values.type):
            values = utc_microseconds(values).cast(pa.date32())
        values = _as_type(values, pa.date32(), column, logical)
        days = pc.subtract(values.cast(pa.int32()), _PG_EPOCH_DAYS)
        return [_fixed_fields(_numbers(days, ">i4"), _validity(values))]
    if logical == "timestamp":
        if not pa.types.is_timestamp(values.type):
            values = _as_type(values, pa.timestamp("us", tz="UTC"), column, logical)
        micros = pc.subtract(utc_microseconds(values).cast(pa.int64()), _PG_EPOCH_MICROSECONDS)
        return [_fixed_fields(_numbers(micros, ">i8"), _validity(values))]
    if DECIMAL_TYPE.match(logical):
        return [_numeric_fields(_decimal_input(values, logical, column))]
    raise LoadError(f"column {column}: no binary COPY encoding for logical type {logical!r}")


def encode_batch(batch: pa.RecordBatch, table: TableSpec) -> pa.Buffer:
    """The binary COPY rows of ``batch`` (columns in ``table`` order), header excluded."""
    parts = [
        part
        for index, column in enumerate(table.columns)
        for part in encode_column(batch.column(index), column.type, column.name)
    ]
    field_count = np.frombuffer(
        np.array([len(table.columns)], dtype=">i2").tobytes(), dtype=np.uint8
    )
    starts = _binary_from_rows(np.tile(field_count, (batch.num_rows, 1)))
    # "skip": a NULL value's bytes are left out (its prefix part already is the NULL field).
    rows = pc.binary_join_element_wise(starts, *parts, _NO_SEPARATOR, null_handling="skip")
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)
    start, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
    return rows.buffers()[2][int(start) : int(end)]


def copy_chunks(batches: Iterable[pa.RecordBatch], table: TableSpec) -> Iterator[pa.Buffer | bytes]:
    """The whole binary COPY stream: header, each non-empty batch's rows, trailer."""
    yield HEADER
    for batch in batches:
        if batch.num_rows:
            yield encode_batch(batch, table)
    yield TRAILER
