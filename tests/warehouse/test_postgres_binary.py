"""The binary COPY path of PostgresWarehouse, value by value, against the real server.

Each value goes through ``load_partition`` (binary COPY built by ``etl_tasks.warehouse.pg_binary``)
and is read back on an independent psycopg2 connection; the expected values are written out here
by hand (Decimal literals, datetimes, JSON documents), never computed by the encoder. The cases are
the ones a hand-written wire encoder gets wrong: NULL against ``''``, bytes that CSV would escape,
decimals whose scale is not a multiple of four or at the limit of precision 38, negative numbers,
dates and instants before 2000-01-01 (negative offsets from PostgreSQL's epoch), non-UTC and
nanosecond timestamps, lists and structs as jsonb, integer extremes, NaN and infinities.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.interface import LoadMarker
from etl_tasks.warehouse.model import Column, TableSpec
from tests.warehouse.contract import LONG_TEXT, TRICKY_TEXT

pytestmark = pytest.mark.postgres

DAY = dt.date(2025, 4, 10)
UTC = dt.timezone.utc


def spec(columns: tuple[Column, ...]) -> TableSpec:
    return TableSpec(
        name=f"bin_{uuid.uuid4().hex[:8]}",
        columns=(Column("day", "date", False), Column("id", "bigint", False), *columns),
        primary_key=("day", "id"),
        partition_column="day",
    )


def load(pg_url: str, tmp_path: Path, table: TableSpec, data: dict[str, pa.Array]) -> list[tuple]:
    """Load ``data`` (plus day and id columns) and return the stored rows in id order."""
    rows = len(next(iter(data.values())))
    arrays = {
        "day": pa.array([DAY] * rows, pa.date32()),
        "id": pa.array(range(rows), pa.int64()),
        **data,
    }
    path = tmp_path / f"{table.name}.parquet"
    pq.write_table(pa.table(arrays), path, row_group_size=7)  # several row groups and batches
    with connect(pg_url) as warehouse:
        warehouse.batch_rows = 5
        warehouse.ensure_schema([table])
        marker = LoadMarker("test", table.name, DAY.isoformat(), "sha")
        assert warehouse.load_partition(table, path, DAY, marker) == rows
    connection = psycopg2.connect(pg_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'Asia/Kolkata'")  # a reader's zone changes nothing
            names = ", ".join(f'"{c.name}"' for c in table.columns[2:])
            cursor.execute(f'SELECT {names} FROM "{table.name}" ORDER BY id')
            return cursor.fetchall()
    finally:
        connection.close()


def test_text_is_byte_exact_and_null_is_not_the_empty_string(pg_url: str, tmp_path: Path) -> None:
    values = [*TRICKY_TEXT, LONG_TEXT, "\x01\x7f control bytes", "é" * 3, "x" * 70_000]
    table = spec((Column("note", "text"),))
    got = load(pg_url, tmp_path, table, {"note": pa.array(values, pa.string())})
    assert [row[0] for row in got] == values
    assert got[0][0] == "" and got[1][0] is None


def test_decimals_are_exact_at_every_scale_and_sign(pg_url: str, tmp_path: Path) -> None:
    cases = {
        "decimal(28,8)": [
            "12345678901234.12345678", "-0.00000001", "0E-8", "99999999999999999999.99999999",
            "-99999999999999999999.99999999", "1.50000000", "0.10000000", None,
        ],
        "decimal(20,2)": ["0.01", "-123456789012345678.99", "0.00", "7.10", None, "1", "-1", "10"],
        "decimal(12,10)": ["0.0000000001", "1.2345678901", "-99.9999999999", "0", None, "5",
                           "0.5", "-0.5"],
        "decimal(38,0)": ["99999999999999999999999999999999999999",
                          "-99999999999999999999999999999999999999", "0", "10000", "9999",
                          None, "1", "-10001"],
        "decimal(38,38)": ["0." + "9" * 38, "-0." + "0" * 37 + "1", "0", None, "0.1",
                           "0." + "1" * 38, "-0.5", "0.00010000"],
        "decimal(9,3)": ["123456.789", "-0.001", "0.000", None, "1.5", "999999.999", "-1", "2"],
    }  # fmt: skip
    columns = tuple(Column(f"d{i}", logical) for i, logical in enumerate(cases))
    data = {}
    for i, (logical, texts) in enumerate(cases.items()):
        precision, scale = (int(x) for x in logical[8:-1].split(","))
        data[f"d{i}"] = pa.array(
            [None if t is None else Decimal(t) for t in texts], pa.decimal128(precision, scale)
        )
    got = load(pg_url, tmp_path, spec(columns), data)
    for i, texts in enumerate(cases.values()):
        stored = [row[i] for row in got]
        assert stored == [None if t is None else Decimal(t) for t in texts], list(cases)[i]
        assert all(v is None or isinstance(v, Decimal) for v in stored)


def test_a_decimal_wider_than_its_column_is_rounded_or_refused_by_the_server(
    pg_url: str, tmp_path: Path
) -> None:
    table = spec((Column("amount", "decimal(10,2)"),))
    got = load(
        pg_url,
        tmp_path,
        table,
        {"amount": pa.array([Decimal("1.005"), Decimal("-2.675")], pa.decimal128(12, 3))},
    )
    assert [row[0] for row in got] == [Decimal("1.01"), Decimal("-2.68")]  # numeric rounds half up
    with pytest.raises(LoadError, match="numeric field overflow"):
        load(
            pg_url,
            tmp_path,
            spec((Column("amount", "decimal(4,2)"),)),
            {"amount": pa.array([Decimal("123.45")], pa.decimal128(5, 2))},
        )


def test_dates_and_instants_before_and_after_2000_in_any_zone(pg_url: str, tmp_path: Path) -> None:
    instants = [
        dt.datetime(2025, 4, 10, 12, 0, 0, 123456, tzinfo=UTC),
        dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(2000, 1, 1, tzinfo=UTC),
        dt.datetime(1970, 1, 1, tzinfo=UTC),
        dt.datetime(1900, 3, 1, 0, 0, 1, tzinfo=UTC),
        dt.datetime(9999, 12, 31, 12, 0, 0, 999999, tzinfo=UTC),  # +05:30 still in year 9999
        None,
    ]
    dates = [
        dt.date(2025, 4, 10), dt.date(1999, 12, 31), dt.date(2000, 1, 1), dt.date(1970, 1, 1),
        dt.date(1900, 3, 1), dt.date(9999, 12, 31), None,
    ]  # fmt: skip
    utc = pa.array(instants, pa.timestamp("us", "UTC"))
    table = spec(
        (
            Column("at", "timestamp"),
            Column("at_sp", "timestamp"),
            Column("at_ns", "timestamp"),
            Column("on", "date"),
        )
    )
    nanos = pa.array(
        [dt.datetime(2025, 4, 10, 12, 0, 0, 123456, tzinfo=UTC)] * len(instants),
        pa.timestamp("us", "UTC"),
    ).cast(pa.timestamp("ns", "UTC"))
    got = load(
        pg_url,
        tmp_path,
        table,
        {
            "at": utc,
            "at_sp": utc.cast(pa.timestamp("us", "America/Sao_Paulo")),
            "at_ns": nanos,
            "on": pa.array(dates, pa.date32()),
        },
    )
    assert [row[0] for row in got] == instants
    assert [row[1] for row in got] == instants
    assert {row[2] for row in got} == {dt.datetime(2025, 4, 10, 12, 0, 0, 123456, tzinfo=UTC)}
    assert [row[3] for row in got] == dates


def test_lists_structs_and_json_text_become_the_same_jsonb(pg_url: str, tmp_path: Path) -> None:
    tags = [["a", 'quote"d', "back\\slash", "tab\t", "ção 🎮"], [], None, ["\n", "\x01"]]
    documents = ['{"k": [1, 2.5, null, true]}', "[]", None, '"just a string"']
    structs = [{"n": 1, "s": "x"}, {"n": None, "s": "é"}, None, {"n": -5, "s": ""}]
    table = spec((Column("tags", "json"), Column("doc", "json"), Column("nested", "json")))
    got = load(
        pg_url,
        tmp_path,
        table,
        {
            "tags": pa.array(tags, pa.list_(pa.string())),
            "doc": pa.array(documents, pa.string()),
            "nested": pa.array(structs, pa.struct([("n", pa.int64()), ("s", pa.string())])),
        },
    )
    assert [row[0] for row in got] == tags  # psycopg2 decodes jsonb to Python
    assert [row[1] for row in got] == [None if d is None else json.loads(d) for d in documents]
    assert [row[2] for row in got] == structs


def test_numbers_and_booleans_at_their_limits(pg_url: str, tmp_path: Path) -> None:
    table = spec(
        (
            Column("big", "bigint"),
            Column("small", "integer"),
            Column("real", "double"),
            Column("flag", "boolean"),
        )
    )
    big = [2**63 - 1, -(2**63), 0, None, -1]
    small = [2**31 - 1, -(2**31), 0, None, 7]
    real = [1.7976931348623157e308, -0.0, math.inf, None, 0.1]
    flags = [True, False, None, True, False]
    got = load(
        pg_url,
        tmp_path,
        table,
        {
            "big": pa.array(big, pa.int64()),
            "small": pa.array(small, pa.int32()),
            "real": pa.array(real, pa.float64()),
            "flag": pa.array(flags, pa.bool_()),
        },
    )
    assert [row[0] for row in got] == big
    assert [row[1] for row in got] == small
    assert [row[2] for row in got] == real
    assert math.copysign(1.0, got[1][2]) == -1.0
    assert [row[3] for row in got] == flags
    nan = load(pg_url, tmp_path, spec((Column("real", "double"),)), {"real": pa.array([math.nan])})
    assert math.isnan(nan[0][0])


def test_an_integer_too_large_for_its_column_is_refused(pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="integer"):
        load(
            pg_url,
            tmp_path,
            spec((Column("small", "integer"),)),
            {"small": pa.array([2**40], pa.int64())},
        )
