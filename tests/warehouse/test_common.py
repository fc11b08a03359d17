"""The database-independent parts of the warehouse backends: DDL rendering per dialect, table
order, vectorised JSON/decimal/timestamp rendering, the CSV wire format, the primary-key sort and
its three strategies, the prefetch thread, the named-pipe feed and the Parquet source checks.

Run: .venv/bin/pytest tests/warehouse/test_common.py
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_tasks.errors import ConfigError, LoadError
from etl_tasks.warehouse.arrow_text import decimal_text, json_text, timestamp_text
from etl_tasks.warehouse.csv_stream import ChunkReader, csv_chunks
from etl_tasks.warehouse.ddl import check_identifier, dependency_order, index_name, table_indexes
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.key_sort import SortedRows, key_order
from etl_tasks.warehouse.model import Column, ForeignKey, TableSpec
from etl_tasks.warehouse.mysql import MySQLWarehouse
from etl_tasks.warehouse.parquet_source import ParquetSource
from etl_tasks.warehouse.pipe_feed import PipeFeed
from etl_tasks.warehouse.postgres import PostgresWarehouse
from etl_tasks.warehouse.prefetch import Prefetch
from etl_tasks.warehouse.render import MYSQL, POSTGRES, SQLITE, render_batch
from etl_tasks.warehouse.sqlite import SQLiteWarehouse
from etl_tasks.warehouse.watchdog import Watchdog

DAY = dt.date(2025, 4, 10)
UTC = dt.timezone.utc

USERS = TableSpec(
    name="p_users",
    mode="upsert",
    columns=(Column("id", "text", False), Column("bio", "text")),
    primary_key=("id",),
)
EVENTS = TableSpec(
    name="p_events",
    partition_column="day",
    columns=(
        Column("day", "date", False),
        Column("id", "text", False),
        Column("user_id", "text", False),
        Column("note", "text"),
        Column("amount", "decimal(28,8)"),
        Column("tags", "json"),
        Column("flag", "boolean"),
        Column("at", "timestamp", False),
    ),
    primary_key=("day", "id"),
    foreign_keys=(ForeignKey(("user_id",), "p_users", ("id",)),),
    indexes=(("user_id",),),
)


# ---- DDL -------------------------------------------------------------------------------------


def test_postgres_ddl_types_keys_and_order() -> None:
    statements = PostgresWarehouse("postgresql://u:pw@127.0.0.1:1/db").schema_statements(
        [EVENTS, USERS]
    )
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    assert [s.split('"')[1] for s in creates] == ["etl_load_audit", "p_users", "p_events"]
    events = creates[2]
    for fragment in (
        '"at" timestamptz NOT NULL',
        '"tags" jsonb,',
        '"amount" numeric(28,8),',
        '"flag" boolean,',
        'PRIMARY KEY ("day", "id")',
        'FOREIGN KEY ("user_id") REFERENCES "p_users" ("id")',
    ):
        assert fragment in events
    assert 'CREATE INDEX IF NOT EXISTS "ix_p_events_user_id" ON "p_events" ("user_id")' in (
        statements
    )
    audit = creates[0]
    assert '"loaded_at" timestamptz NOT NULL' in audit
    assert 'PRIMARY KEY ("table_name", "partition_key")' in audit


def test_mysql_ddl_bounds_key_text_and_declares_indexes_inline() -> None:
    statements = MySQLWarehouse("mysql://root@127.0.0.1:1/db").schema_statements([EVENTS, USERS])
    assert len(statements) == 3  # indexes live inside CREATE TABLE: no CREATE INDEX at all
    events = statements[2]
    for fragment in (
        "`id` VARCHAR(191) NOT NULL",
        "`user_id` VARCHAR(191) NOT NULL",  # foreign key and index column
        "`note` LONGTEXT,",
        "`at` DATETIME(6) NOT NULL",
        "`tags` JSON,",
        "`flag` TINYINT(1),",
        "`amount` DECIMAL(28,8),",
        "KEY `ix_p_events_user_id` (`user_id`)",
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    ):
        assert fragment in events
    assert "`bio` LONGTEXT" in statements[1]
    assert "`table_name` VARCHAR(191) NOT NULL" in statements[0]


def test_sqlite_ddl_keeps_exact_types_as_text() -> None:
    statements = SQLiteWarehouse("sqlite:///:memory:").schema_statements([EVENTS])
    events = next(s for s in statements if s.startswith('CREATE TABLE IF NOT EXISTS "p_events"'))
    for fragment in ('"amount" TEXT', '"at" TEXT NOT NULL', '"flag" INTEGER', '"tags" TEXT'):
        assert fragment in events


def test_partition_index_added_only_when_no_key_or_index_starts_with_it() -> None:
    assert table_indexes(EVENTS) == [("user_id",)]  # day leads the primary key
    videos = TableSpec(
        name="videos",
        partition_column="created_date",
        columns=(Column("id", "text", False), Column("created_date", "date", False)),
        primary_key=("id",),
    )
    assert table_indexes(videos) == [("created_date",)]


def test_dependency_order_is_stable_and_refuses_cycles() -> None:
    assert [t.name for t in dependency_order([EVENTS, USERS])] == ["p_users", "p_events"]
    assert [t.name for t in dependency_order([USERS, EVENTS])] == ["p_users", "p_events"]
    a = TableSpec("a", (Column("id", "text"),), ("id",), mode="upsert",
                  foreign_keys=(ForeignKey(("id",), "b", ("id",)),))  # fmt: skip
    b = TableSpec("b", (Column("id", "text"),), ("id",), mode="upsert",
                  foreign_keys=(ForeignKey(("id",), "a", ("id",)),))  # fmt: skip
    with pytest.raises(ValueError, match="cycle"):
        dependency_order([a, b])
    assert dependency_order([a]) == [a]  # a reference outside the list is assumed to exist


def test_identifiers_and_index_names() -> None:
    with pytest.raises(ValueError, match="plain identifier"):
        check_identifier('users"; DROP TABLE x; --')
    long = index_name("a_really_long_table_name_for_testing", ("column_one", "column_two", "c3"))
    other = index_name("a_really_long_table_name_for_testing", ("column_one", "column_two", "c4"))
    assert len(long) <= 63 and len(other) <= 63 and long != other


def test_connect_dispatches_on_scheme_and_connects_lazily() -> None:
    assert isinstance(connect("postgresql://u:p@127.0.0.1:1/db"), PostgresWarehouse)
    assert isinstance(connect("mariadb://u:p@127.0.0.1:1/db"), MySQLWarehouse)
    assert isinstance(connect("mysql+pymysql://u:p@127.0.0.1:1/db"), MySQLWarehouse)
    assert isinstance(connect("sqlite:///:memory:"), SQLiteWarehouse)
    with pytest.raises(ConfigError, match="postgresql://, mysql:// or sqlite:///"):
        connect("oracle://u@h/db")


# ---- rendering -------------------------------------------------------------------------------

CONTROL = "".join(chr(code) for code in range(32))
STRINGS = ["", "plain", 'q"uote', "back\\slash", CONTROL, "ção 中文 🎮", "\u2028", "\\N", "NULL"]


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_json_of_list_of_strings_matches_python_json_for_every_character() -> None:
    values = [STRINGS, [], None, [None, "x"], ["a", "b"]]
    array = pa.array(values, pa.list_(pa.string()))
    encoded = json_text(array).to_pylist()
    assert encoded[2] is None  # SQL NULL, not the JSON text "null"
    for text, value in zip(encoded, values, strict=True):
        if value is not None:
            assert json.loads(text) == value
            assert text == compact(value)


def test_json_of_nested_types() -> None:
    nested = pa.array([[[1, 2], [], None], None, [[3]]], pa.list_(pa.list_(pa.int64())))
    assert json_text(nested).to_pylist() == ["[[1,2],[],null]", None, "[[3]]"]
    structs = pa.array(
        [{"name": 'a"b', "n": 1.5, "ok": True}, {"name": None, "n": None, "ok": False}, None],
        pa.struct([("name", pa.string()), ("n", pa.float64()), ("ok", pa.bool_())]),
    )
    assert [json.loads(t) if t else t for t in json_text(structs).to_pylist()] == [
        {"name": 'a"b', "n": 1.5, "ok": True},
        {"name": None, "n": None, "ok": False},
        None,
    ]
    maps = pa.array([[("k", 1), ('q"', 2)], []], pa.map_(pa.string(), pa.int32()))
    assert json_text(maps).to_pylist() == ['{"k":1,"q\\"":2}', "{}"]
    floats = pa.array([[1.0, math.nan, math.inf, 0.1]], pa.list_(pa.float64()))
    assert json.loads(json_text(floats)[0].as_py()) == [1.0, None, None, 0.1]
    decimals = pa.array([[Decimal("0E-8"), Decimal("1.5")]], pa.list_(pa.decimal128(10, 8)))
    assert json_text(decimals).to_pylist() == ["[0.00000000,1.50000000]"]
    stamps = pa.array([[dt.datetime(2025, 4, 10, 1, 2, 3, 4, tzinfo=UTC)]],
                      pa.list_(pa.timestamp("us", "UTC")))  # fmt: skip
    assert json_text(stamps).to_pylist() == ['["2025-04-10T01:02:03.000004Z"]']
    dictionary = pa.array(["x", "y", "x"]).dictionary_encode()
    assert json_text(pa.ListArray.from_arrays([0, 2, 3], dictionary)).to_pylist() == [
        '["x","y"]',
        '["x"]',
    ]


def test_decimal_text_is_plain_and_exact() -> None:
    values = ["0", "-0.00000001", "0.0000001", "12345678901234.12345678", "-99.5", None]
    array = pa.array([Decimal(v) if v else None for v in values], pa.decimal128(28, 8))
    assert decimal_text(array).to_pylist() == [
        "0.00000000",
        "-0.00000001",
        "0.00000010",
        "12345678901234.12345678",
        "-99.50000000",
        None,
    ]
    integers = pa.array([Decimal(0), Decimal(7)], pa.decimal128(5, 0))
    assert decimal_text(integers).to_pylist() == ["0", "7"]


def test_timestamp_text_is_utc_with_microseconds() -> None:
    instant = dt.datetime(2025, 4, 10, 15, 0, 0, 123456, tzinfo=UTC)
    in_sao_paulo = pa.array([instant], pa.timestamp("us", "UTC")).cast(
        pa.timestamp("us", "America/Sao_Paulo")
    )
    assert timestamp_text(in_sao_paulo).to_pylist() == ["2025-04-10 15:00:00.123456"]
    nanos = pa.array([1_744_297_200_123_456_789], pa.timestamp("ns"))  # naive = UTC
    assert timestamp_text(nanos, "T", "Z").to_pylist() == ["2025-04-10T15:00:00.123456Z"]
    seconds = pa.array([0, None], pa.timestamp("s", "UTC"))
    assert timestamp_text(seconds, " ", "+00").to_pylist() == [
        "1970-01-01 00:00:00.000000+00",
        None,
    ]


def sample_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "day": pa.array([DAY, DAY], pa.date32()),
            "id": pa.array(["", "NULL"]),
            "user_id": pa.array(['a"b', "x,y\nz"]),
            "note": pa.array([None, "\\N"]),
            "amount": pa.array([Decimal("0"), None], pa.decimal128(28, 8)),
            "tags": pa.array([["t"], None], pa.list_(pa.string())),
            "flag": pa.array([True, None]),
            "at": pa.array(
                [dt.datetime(2025, 4, 10, 1, tzinfo=UTC), None], pa.timestamp("us", "UTC")
            ),
        }
    )


def csv_of(rendering: object, null_token: str) -> bytes:
    batch = render_batch(sample_batch(), EVENTS, rendering)  # type: ignore[arg-type]
    return b"".join(bytes(chunk) for chunk in csv_chunks([batch], null_token))


def test_postgres_csv_keeps_null_empty_and_the_word_null_apart() -> None:
    assert csv_of(POSTGRES, "") == (
        b'2025-04-10,"","a""b",,0E-8,"[""t""]",true,"2025-04-10 01:00:00.000000+00"\n'
        b'2025-04-10,"NULL","x,y\nz","\\N",,,,\n'
    )


def test_mysql_csv_writes_null_as_the_bare_word_and_booleans_as_digits() -> None:
    assert csv_of(MYSQL, "NULL") == (
        b'2025-04-10,"","a""b",NULL,0E-8,"[""t""]",1,"2025-04-10 01:00:00.000000"\n'
        b'2025-04-10,"NULL","x,y\nz","\\N",NULL,NULL,NULL,NULL\n'
    )


def test_sqlite_rendering_gives_text_dates_plain_decimals_and_iso_timestamps() -> None:
    batch = render_batch(sample_batch(), EVENTS, SQLITE)
    assert batch.to_pylist()[0] == {
        "day": "2025-04-10",
        "id": "",
        "user_id": 'a"b',
        "note": None,
        "amount": "0.00000000",
        "tags": '["t"]',
        "flag": True,
        "at": "2025-04-10T01:00:00.000000Z",
    }


def test_chunk_reader_serves_bounded_reads_of_the_concatenated_stream() -> None:
    chunks = [b"abcdef", b"", pa.py_buffer(b"ghij"), b"k"]
    reader = ChunkReader(chunks)
    pieces = []
    while piece := reader.read(4):
        assert len(piece) <= 4
        pieces.append(piece)
    assert b"".join(pieces) == b"abcdefghijk" and reader.bytes_read == 11
    assert reader.read(4) == b""


# ---- primary-key order -------------------------------------------------------------------


def test_key_order_matches_python_sorting_on_every_path() -> None:
    rng = random.Random(5)
    words = ["b", "a", "ção", "Z", "🎮", "", "a "]
    duplicates = pa.table({"w": [rng.choice(words) for _ in range(500)],
                           "n": [rng.randint(-3, 3) for _ in range(500)]})  # fmt: skip
    unique_rows = list(
        {
            (w, n)
            for w, n in zip(duplicates["w"].to_pylist(), duplicates["n"].to_pylist(), strict=True)
        }
    )
    rng.shuffle(unique_rows)
    unique = pa.table({"w": [r[0] for r in unique_rows], "n": [r[1] for r in unique_rows]})
    wide = pa.table({f"c{i}": rng.sample(range(10**6), 2000) for i in range(5)})  # > 2**63 range
    for keys in (duplicates, unique, wide):
        rows = list(zip(*(keys[name].to_pylist() for name in keys.column_names), strict=True))

        def byte_order(i: int, rows: list[tuple] = rows) -> tuple:
            # Arrow compares strings as UTF-8 bytes (utf8mb4_bin order); ties keep file order.
            return (tuple(v.encode() if isinstance(v, str) else v for v in rows[i]), i)

        expected = sorted(range(len(rows)), key=byte_order)
        assert key_order(keys).tolist() == expected


def test_key_order_of_dictionary_columns_is_the_order_of_their_values() -> None:
    # A dictionary with repeated and unused entries (as after concatenating batches) ranks each
    # row by its value: ties stay ties, gaps change nothing.
    dictionary = pa.array(["b", "a", "ção", "b", "unused", "", "a "])
    rng = random.Random(9)
    indices = pa.array([rng.choice([0, 1, 2, 3, 5, 6]) for _ in range(400)], pa.int32())
    words = pa.DictionaryArray.from_arrays(indices, dictionary)
    numbers = pa.array([rng.randint(0, 5) for _ in range(400)])
    encoded = pa.table({"w": words, "n": numbers})
    plain = pa.table({"w": words.dictionary_decode(), "n": numbers})
    assert key_order(encoded).tolist() == key_order(plain).tolist()


def test_repetitive_text_is_read_dictionary_encoded(tmp_path: Path) -> None:
    pq.write_table(positions_table(1000), tmp_path / "p.parquet", row_group_size=128)
    source = ParquetSource(tmp_path / "p.parquet", POSITIONS, DAY, batch_rows=100)
    assert source.repetitive_text() == ["fund"]  # 7 funds; every asset is distinct
    batch = next(source.batches(dictionary=["fund"]))
    assert pa.types.is_dictionary(batch.schema.field("fund").type)
    assert pa.types.is_string(batch.schema.field("asset").type)
    source.close()


def positions_table(rows: int, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    order = rng.permutation(rows)
    return pa.table({
        "fund": pa.array([f"f{i % 7}" for i in order]),
        "day": pa.array([DAY] * rows, pa.date32()),
        "asset": pa.array([f"a{i:05d}" for i in order]),
        "qty": pa.array(order, pa.int64()),
    })  # fmt: skip


POSITIONS = TableSpec(
    name="positions",
    partition_column="day",
    columns=(
        Column("fund", "text", False),
        Column("day", "date", False),
        Column("asset", "text", False),
        Column("qty", "bigint"),
    ),
    primary_key=("fund", "day", "asset"),
)


@pytest.mark.parametrize(
    ("budget", "presort", "strategy"),
    [
        (2**30, False, "memory"),
        (1, False, "merge"),
        (1, True, "presorted"),
        (2**30, True, "presorted"),
    ],
)
def test_sorted_rows_strategies_yield_every_row_in_key_order(
    tmp_path: Path, budget: int, presort: bool, strategy: str
) -> None:
    table = positions_table(1000)
    if presort:
        table = table.sort_by([("fund", "ascending"), ("asset", "ascending")])
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=128)
    source = ParquetSource(tmp_path / "p.parquet", POSITIONS, DAY, batch_rows=100)
    rows = SortedRows(
        source, POSITIONS.primary_key, budget_bytes=budget, spill_root=tmp_path / "scratch"
    )
    assert rows.strategy == strategy
    spill = rows.spill_directory
    batches = list(rows.batches())
    assert all(batch.num_rows <= 100 for batch in batches)
    loaded = pa.Table.from_batches(batches)
    keys = list(zip(loaded["fund"].to_pylist(), loaded["asset"].to_pylist(), strict=True))
    assert keys == sorted(zip(table["fund"].to_pylist(), table["asset"].to_pylist(), strict=True))
    assert sorted(loaded["qty"].to_pylist()) == list(range(1000))
    assert source.rows_read == 1000
    if strategy == "merge":  # sorted runs were spilled under the scratch root, then removed
        assert rows.run_count >= 2 and spill is not None and spill.parent == tmp_path / "scratch"
        assert not spill.exists()


def test_sorted_rows_merge_of_many_runs_keeps_key_order(tmp_path: Path) -> None:
    # 50 sorted runs (budget 1: every 20-row batch is a run): buffers are topped up and merged
    # in steps that take rows from many runs at once.
    table = positions_table(1000)
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=128)
    source = ParquetSource(tmp_path / "p.parquet", POSITIONS, DAY, batch_rows=20)
    rows = SortedRows(source, POSITIONS.primary_key, budget_bytes=1, spill_root=tmp_path)
    assert rows.strategy == "merge" and rows.run_count > 16
    batches = list(rows.batches())
    assert all(batch.num_rows <= 20 for batch in batches)
    loaded = pa.Table.from_batches(batches)
    keys = list(zip(loaded["fund"].to_pylist(), loaded["asset"].to_pylist(), strict=True))
    assert keys == sorted(zip(table["fund"].to_pylist(), table["asset"].to_pylist(), strict=True))
    assert sorted(loaded["qty"].to_pylist()) == list(range(1000))


def test_watchdog_sets_no_limit_while_idle_and_cuts_an_answer_that_never_comes() -> None:
    # The PostgreSQL load sorts its rows (client work) before COPY: no limit may fire then.
    ours, theirs = socket.socketpair()
    try:
        with Watchdog(ours.fileno(), answer_s=0.1, stall_s=0.1, what="the test server") as guard:
            guard.idle()
            time.sleep(0.6)
            assert guard.reason is None
            guard.waiting()
            ours.settimeout(5)
            assert ours.recv(1) == b""  # shut down under the blocked read
            assert guard.reason is not None and "did not answer within 0.1 s" in guard.reason
    finally:
        ours.close()
        theirs.close()


# ---- threads and pipes ---------------------------------------------------------------------


def test_prefetch_keeps_order_and_reraises_where_the_producer_failed() -> None:
    def numbers() -> Iterator[int]:
        yield from range(5)
        raise RuntimeError("boom at 5")

    seen = []
    with Prefetch(numbers(), depth=2) as items, pytest.raises(RuntimeError, match="boom at 5"):
        seen.extend(items)
    assert seen == [0, 1, 2, 3, 4]


def test_prefetch_close_stops_an_endless_producer() -> None:
    produced = []

    def endless() -> Iterator[int]:
        count = 0
        while True:
            produced.append(count)
            yield count
            count += 1

    prefetch = Prefetch(endless(), depth=2)
    assert next(iter(prefetch)) == 0
    prefetch.close()  # a close that waited for the endless producer would hang (pytest-timeout)
    assert not any(t.name == "prefetch" and t.is_alive() for t in threading.enumerate())
    assert len(produced) < 10


def test_pipe_feed_streams_every_byte_to_a_reader_of_its_path() -> None:
    chunks = [os.urandom(300_000) for _ in range(8)]
    with PipeFeed(iter(chunks)) as feed:
        with open(feed.path, "rb") as reader:
            received = reader.read()
        feed.finish()
        path = feed.path
    assert received == b"".join(chunks) and feed.bytes_written == len(received)
    assert not os.path.exists(os.path.dirname(path))


def test_pipe_feed_reraises_a_producer_error_after_the_reader_saw_the_short_file() -> None:
    def failing() -> Iterator[bytes]:
        yield b"first part"
        raise ValueError("render failed")

    with PipeFeed(failing()) as feed:
        with open(feed.path, "rb") as reader:
            assert reader.read() == b"first part"
        with pytest.raises(ValueError, match="render failed"):
            feed.finish()


def test_pipe_feed_without_fifos_writes_a_temporary_file_first() -> None:
    feed = PipeFeed(iter([b"abc", b"", b"def"]))
    feed.uses_fifo = False  # what happens where os.mkfifo does not exist (Windows)
    with feed:
        assert Path(feed.path).read_bytes() == b"abcdef"
        feed.finish()
    assert not os.path.exists(feed.path)


def test_pipe_feed_never_opened_does_not_hang() -> None:
    with PipeFeed(iter([b"never read"])) as feed:
        path = feed.path  # the statement failed before the driver opened the file
    # Leaving the block returned (a hang fails by pytest-timeout) and cleaned up its FIFO.
    assert not os.path.exists(path)


# ---- Parquet source checks -------------------------------------------------------------------


def test_source_refuses_rows_of_other_partitions_and_null_partition_values(tmp_path: Path) -> None:
    table = positions_table(10).set_column(
        1, "day", pa.array([DAY] * 7 + [DAY - dt.timedelta(days=1), None, DAY], pa.date32())
    )
    pq.write_table(table, tmp_path / "p.parquet")
    source = ParquetSource(tmp_path / "p.parquet", POSITIONS, DAY)
    with pytest.raises(LoadError, match="has 2 rows whose day is not 2025-04-10"):
        list(source.batches())
    as_text = table.set_column(1, "day", pa.array([DAY.isoformat()] * 10).dictionary_encode())
    pq.write_table(as_text, tmp_path / "t.parquet")
    assert (
        sum(b.num_rows for b in ParquetSource(tmp_path / "t.parquet", POSITIONS, DAY).batches())
        == 10
    )


def test_source_names_a_missing_file_a_broken_file_and_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="does not exist; run the transform first"):
        ParquetSource(tmp_path / "none.parquet", POSITIONS, DAY)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(LoadError, match="not a readable Parquet file"):
        ParquetSource(tmp_path / "broken.parquet", POSITIONS, DAY)
    pq.write_table(pa.table({"fund": ["f"]}), tmp_path / "few.parquet")
    with pytest.raises(LoadError, match=r"lacks columns \['day', 'asset', 'qty'\]"):
        ParquetSource(tmp_path / "few.parquet", POSITIONS, DAY)


def test_sorted_rows_refuse_a_null_key_wherever_it_is(tmp_path: Path) -> None:
    table = positions_table(1000)
    funds = table["fund"].to_pylist()
    funds[900] = None  # far after the first batch, which alone decides "not presorted"
    table = table.set_column(0, "fund", pa.array(funds, pa.string()))
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=128)
    source = ParquetSource(tmp_path / "p.parquet", POSITIONS, DAY, batch_rows=100)
    with pytest.raises(LoadError, match="1 rows with NULL in the primary-key column fund"):
        SortedRows(source, POSITIONS.primary_key, budget_bytes=1, spill_root=tmp_path / "s")
