"""The behaviour every warehouse backend must show, run against each real database.

Not a test module itself: ``tests/warehouse/test_{postgres,mysql,sqlite}.py`` subclass
:class:`WarehouseContract` and provide two fixtures, ``url`` (a fresh database) and ``db`` (a
:class:`Reader` on an independent connection, so every assertion reads what was committed).

Each test builds its own small TableSpecs with a unique name prefix and writes its Parquet files to
``tmp_path``; values are read back and compared with the Parquet source exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.interface import LoadMarker, Warehouse
from etl_tasks.warehouse.model import Column, ForeignKey, TableSpec

DAY = dt.date(2025, 4, 10)
UTC = dt.timezone.utc

# Text that breaks naive escaping: every value must come back byte-identical, and None stays NULL.
TRICKY_TEXT: list[str | None] = [
    "",
    None,
    "plain",
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "crlf\r\nend",
    "back\\slash",
    "\\",
    "ends with backslash\\",
    'double "quoted"',
    '"',
    '""',
    '",',
    "single 'quote'",
    "\\N",
    "NULL",
    "null",
    "\\n is not a newline",
    "comma, separated",
    ",",
    "  leading and trailing  ",
    " ",
    "\t",
    "\n",
    "\r\n",
    'mix "\t\\N,\r\n" end',
    "unicode ção ñ 中文 Ελληνικά",
    "emoji 🎮👍🏽 (4-byte UTF-8)",
    "zero\u200bwidth and \u2028 line separator",
    "'; DROP TABLE x; --",
    "%s %d {} %%",
]
LONG_TEXT = ('long "text", with\ttabs\\ and\nnewlines ção 🎮 ' * 40_000)[:1_500_000]


@dataclass
class Reader:
    """Raw rows from an independent connection, and how this backend returns each type."""

    query: Callable[[str], list[tuple]]
    quote: Callable[[str], str]
    dialect: str

    def rows(self, table: str, order_by: str = "id") -> list[tuple]:
        return self.query(f"SELECT * FROM {self.quote(table)} ORDER BY {self.quote(order_by)}")

    def column(self, table: str, column: str, order_by: str = "id") -> list[Any]:
        sql = (
            f"SELECT {self.quote(column)} FROM {self.quote(table)} ORDER BY {self.quote(order_by)}"
        )
        return [row[0] for row in self.query(sql)]

    def as_bool(self, value: Any) -> bool | None:
        if value is None:
            return None
        if self.dialect != "postgresql":
            assert value in (0, 1), f"{self.dialect} booleans are 1/0, got {value!r}"
        return bool(value)

    def as_timestamp(self, value: Any) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite: fixed-width ISO-8601 text in UTC
            assert len(value) == 27 and value.endswith("Z"), value
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:  # MySQL DATETIME holds the UTC wall clock
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def as_date(self, value: Any) -> dt.date | None:
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
        return value

    def as_json(self, value: Any) -> Any:
        if self.dialect == "postgresql":
            return value  # psycopg2 parses jsonb
        return json.loads(value)  # MySQL/MariaDB JSON and SQLite TEXT come back as text

    def as_decimal(self, value: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite: the exact decimal text, never a float
            assert "E" not in value.upper(), value
            return Decimal(value)
        assert isinstance(value, Decimal), f"{value!r} is not exact"
        return value


def write_parquet(path: Path, columns: dict[str, pa.Array]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def marker_for(table: TableSpec, sha256: str, partition: dt.date = DAY) -> LoadMarker:
    return LoadMarker(f"Load({table.name})", table.name, partition.isoformat(), sha256)


def users_spec(prefix: str) -> TableSpec:
    return TableSpec(
        name=f"{prefix}users",
        mode="upsert",
        columns=(
            Column("id", "text", nullable=False),
            Column("login", "text", nullable=False),
            Column("score", "double"),
            Column("seen_at", "timestamp"),
        ),
        primary_key=("id",),
    )


def events_spec(prefix: str) -> TableSpec:
    return TableSpec(
        name=f"{prefix}events",
        partition_column="day",
        columns=(
            Column("day", "date", nullable=False),
            Column("id", "text", nullable=False),
            Column("user_id", "text", nullable=False),
            Column("note", "text"),
            Column("amount", "decimal(28,8)"),
            Column("tags", "json"),
            Column("flag", "boolean"),
            Column("at", "timestamp", nullable=False),
        ),
        primary_key=("day", "id"),
        foreign_keys=(ForeignKey(("user_id",), f"{prefix}users", ("id",)),),
        indexes=(("user_id",),),
    )


def users_file(path: Path, ids: list[str], logins: list[str | None], score: float = 1.5) -> Path:
    return write_parquet(
        path,
        {
            "id": pa.array(ids, pa.string()),
            "login": pa.array(logins, pa.string()),
            "score": pa.array([score] * len(ids), pa.float64()),
            "seen_at": pa.array(
                [dt.datetime(2025, 4, 10, 12, 0, tzinfo=UTC)] * len(ids), pa.timestamp("us", "UTC")
            ),
        },
    )


def events_file(
    path: Path, ids: list[str], users: list[str], day: dt.date = DAY, note: str = "v1"
) -> Path:
    count = len(ids)
    return write_parquet(
        path,
        {
            "day": pa.array([day] * count, pa.date32()),
            "id": pa.array(ids, pa.string()),
            "user_id": pa.array(users, pa.string()),
            "note": pa.array([note] * count, pa.string()),
            "amount": pa.array([Decimal("1.50000000")] * count, pa.decimal128(28, 8)),
            "tags": pa.array([["a"]] * count, pa.list_(pa.string())),
            "flag": pa.array([True] * count, pa.bool_()),
            "at": pa.array(
                [dt.datetime(2025, 4, 10, 8, 30, tzinfo=UTC)] * count, pa.timestamp("us", "UTC")
            ),
        },
    )


class ShortLoads:
    """Wraps a real backend so the Parquet file claims one row more than it streams: the rows
    that reach the database fall short of the file, which is what the row-count verification
    exists to catch (a driver, a server or a reader that loses rows)."""

    @staticmethod
    def wrap(warehouse: Warehouse) -> Warehouse:
        original = warehouse._bulk_load  # type: ignore[attr-defined]

        def short_bulk_load(cursor: Any, table: TableSpec, target: str, source: Any) -> int:
            loaded = original(cursor, table, target, source)
            source.num_rows += 1
            return loaded

        warehouse._bulk_load = short_bulk_load  # type: ignore[attr-defined]
        return warehouse


class WarehouseContract:
    """Tests shared by every backend; subclasses provide the ``url`` and ``db`` fixtures."""

    @pytest.fixture
    def prefix(self) -> str:
        return f"t{uuid.uuid4().hex[:8]}_"

    @pytest.fixture
    def warehouse(self, url: str) -> Iterator[Warehouse]:
        with connect(url) as warehouse:
            yield warehouse

    @pytest.fixture
    def schema(self, warehouse: Warehouse, prefix: str) -> tuple[TableSpec, TableSpec]:
        users, events = users_spec(prefix), events_spec(prefix)
        warehouse.ensure_schema([events, users])  # out of order on purpose: FKs decide
        return users, events

    def load_users(self, warehouse: Warehouse, users: TableSpec, path: Path, sha: str) -> int:
        return warehouse.load_partition(users, path, DAY, marker_for(users, sha))

    # ---- schema ------------------------------------------------------------------------------

    def test_schema_is_idempotent_and_missing_tables_lists_what_is_absent(
        self, warehouse: Warehouse, prefix: str
    ) -> None:
        users, events = users_spec(prefix), events_spec(prefix)
        assert warehouse.missing_tables([users, events])[-2:] == [users.name, events.name]
        warehouse.ensure_schema([events, users])
        warehouse.ensure_schema([users, events])
        assert warehouse.missing_tables([users, events]) == []
        other = users_spec(prefix + "x")
        assert warehouse.missing_tables([users, other]) == [other.name]
        assert warehouse.count_rows(events.name) == 0

    def test_ping_returns_the_server_version(self, warehouse: Warehouse) -> None:
        assert any(char.isdigit() for char in warehouse.ping())

    # ---- partition loads -----------------------------------------------------------------------

    def test_partition_load_then_reload_replaces_and_never_doubles(
        self, warehouse: Warehouse, schema: tuple[TableSpec, TableSpec], tmp_path: Path, db: Reader
    ) -> None:
        users, events = schema
        self.load_users(warehouse, users, users_file(tmp_path / "u.parquet", ["u1"], ["one"]), "u")
        other_day = DAY - dt.timedelta(days=1)
        old = events_file(tmp_path / "old.parquet", ["x"], ["u1"], day=other_day)
        warehouse.load_partition(events, old, other_day, marker_for(events, "old", other_day))
        first = events_file(tmp_path / "a.parquet", ["e1", "e2", "e3"], ["u1"] * 3, note="v1")
        assert warehouse.load_partition(events, first, DAY, marker_for(events, "A")) == 3
        second = events_file(tmp_path / "b.parquet", ["e2", "e3"], ["u1"] * 2, note="v2")
        assert warehouse.load_partition(events, second, DAY, marker_for(events, "B")) == 2
        assert warehouse.load_partition(events, second, DAY, marker_for(events, "B")) == 2
        rows = db.query(
            f"SELECT {db.quote('id')}, {db.quote('note')} FROM {db.quote(events.name)} "
            f"ORDER BY {db.quote('id')}"
        )
        assert rows == [("e2", "v2"), ("e3", "v2"), ("x", "v1")]
        assert warehouse.count_rows(events.name, "day = %s", [DAY.isoformat()]) == 2

    def test_marker_written_in_the_load_and_is_loaded_only_for_the_same_sha256(
        self, warehouse: Warehouse, schema: tuple[TableSpec, TableSpec], tmp_path: Path
    ) -> None:
        users, _ = schema
        assert not warehouse.is_loaded(users.name, DAY.isoformat(), "sha-1")
        self.load_users(warehouse, users, users_file(tmp_path / "u.parquet", ["u1"], ["a"]), "s1")
        assert warehouse.is_loaded(users.name, DAY.isoformat(), "s1")
        assert not warehouse.is_loaded(users.name, DAY.isoformat(), "s2")
        assert not warehouse.is_loaded(users.name, "2025-04-11", "s1")
        self.load_users(warehouse, users, users_file(tmp_path / "v.parquet", ["u1"], ["b"]), "s2")
        assert not warehouse.is_loaded(users.name, DAY.isoformat(), "s1")
        assert warehouse.is_loaded(users.name, DAY.isoformat(), "s2")
        mine = [m for m in warehouse.markers(DAY.isoformat()) if m["table_name"] == users.name]
        assert len(mine) == 1
        marker = mine[0]
        assert (marker["task_id"], marker["rows"], marker["sha256"]) == (
            f"Load({users.name})",
            1,
            "s2",
        )
        age = dt.datetime.now(UTC) - marker["loaded_at"]
        assert dt.timedelta(0) <= age < dt.timedelta(minutes=5)
        assert warehouse.remove_marker(users.name, DAY.isoformat()) == 1
        assert warehouse.remove_marker(users.name, DAY.isoformat()) == 0
        assert not warehouse.is_loaded(users.name, DAY.isoformat(), "s2")
        assert warehouse.count_rows(users.name) == 1  # the data stays; only the marker goes

    def test_upsert_updates_existing_dimension_rows_and_inserts_new_ones(
        self, warehouse: Warehouse, schema: tuple[TableSpec, TableSpec], tmp_path: Path, db: Reader
    ) -> None:
        users, _ = schema
        first = users_file(tmp_path / "1.parquet", ["u1", "u2"], ["one", "two"], score=1.0)
        assert self.load_users(warehouse, users, first, "1") == 2
        second = users_file(tmp_path / "2.parquet", ["u2", "u3"], ["TWO", "three"], score=2.0)
        assert self.load_users(warehouse, users, second, "2") == 2
        rows = [(r[0], r[1], r[2]) for r in db.rows(users.name)]
        assert rows == [("u1", "one", 1.0), ("u2", "TWO", 2.0), ("u3", "three", 2.0)]

    def test_empty_file_clears_the_partition_and_still_writes_its_marker(
        self, warehouse: Warehouse, schema: tuple[TableSpec, TableSpec], tmp_path: Path
    ) -> None:
        users, events = schema
        self.load_users(warehouse, users, users_file(tmp_path / "u.parquet", ["u1"], ["a"]), "u")
        full = events_file(tmp_path / "full.parquet", ["e1"], ["u1"])
        warehouse.load_partition(events, full, DAY, marker_for(events, "full"))
        empty = events_file(tmp_path / "empty.parquet", [], [])
        assert warehouse.load_partition(events, empty, DAY, marker_for(events, "empty")) == 0
        assert warehouse.count_rows(events.name) == 0
        assert warehouse.is_loaded(events.name, DAY.isoformat(), "empty")

    # ---- failures roll back everything ------------------------------------------------------

    def assert_untouched(self, warehouse: Warehouse, events: TableSpec, db: Reader) -> None:
        assert db.column(events.name, "note") == ["v1", "v1"]
        assert warehouse.is_loaded(events.name, DAY.isoformat(), "good")
        marker = [m for m in warehouse.markers() if m["table_name"] == events.name]
        assert [(m["sha256"], m["rows"]) for m in marker] == [("good", 2)]

    @pytest.fixture
    def loaded_events(
        self, warehouse: Warehouse, schema: tuple[TableSpec, TableSpec], tmp_path: Path
    ) -> tuple[TableSpec, TableSpec]:
        users, events = schema
        self.load_users(warehouse, users, users_file(tmp_path / "u.parquet", ["u1"], ["a"]), "u")
        good = events_file(tmp_path / "good.parquet", ["e1", "e2"], ["u1", "u1"], note="v1")
        warehouse.load_partition(events, good, DAY, marker_for(events, "good"))
        return users, events

    def test_foreign_key_violation_rolls_back_the_whole_load(
        self, warehouse: Warehouse, loaded_events: tuple, tmp_path: Path, db: Reader
    ) -> None:
        _, events = loaded_events
        bad = events_file(tmp_path / "bad.parquet", ["e1", "e9"], ["u1", "nobody"], note="v2")
        with pytest.raises(LoadError) as caught:
            warehouse.load_partition(events, bad, DAY, marker_for(events, "bad"))
        message = str(caught.value)
        assert events.name in message and DAY.isoformat() in message
        assert "rolled back" in message
        self.assert_untouched(warehouse, events, db)

    def test_null_in_a_not_null_column_rolls_back_the_whole_load(
        self, warehouse: Warehouse, loaded_events: tuple, tmp_path: Path, db: Reader
    ) -> None:
        users, events = loaded_events
        bad = events_file(tmp_path / "bad.parquet", ["e1", "e2"], ["u1", "u1"], note="v2")
        table = pq.read_table(bad)
        at = table.schema.get_field_index("at")
        nulls = pa.array([dt.datetime(2025, 4, 10, tzinfo=UTC), None], pa.timestamp("us", "UTC"))
        pq.write_table(table.set_column(at, "at", nulls), bad)
        with pytest.raises(LoadError, match="rolled back"):
            warehouse.load_partition(events, bad, DAY, marker_for(events, "bad"))
        self.assert_untouched(warehouse, events, db)
        bad_users = users_file(tmp_path / "bu.parquet", ["u1", "u7"], ["changed", None])
        with pytest.raises(LoadError, match=users.name):
            self.load_users(warehouse, users, bad_users, "bad")
        assert db.column(users.name, "login") == ["a"]

    def test_duplicate_primary_key_in_the_file_is_refused(
        self, warehouse: Warehouse, loaded_events: tuple, tmp_path: Path, db: Reader
    ) -> None:
        users, events = loaded_events
        dup = events_file(tmp_path / "dup.parquet", ["e1", "e1", "e3"], ["u1"] * 3, note="v2")
        with pytest.raises(LoadError, match="rolled back"):
            warehouse.load_partition(events, dup, DAY, marker_for(events, "dup"))
        self.assert_untouched(warehouse, events, db)
        dup_users = users_file(tmp_path / "du.parquet", ["u1", "u1"], ["x", "y"])
        with pytest.raises(LoadError):
            self.load_users(warehouse, users, dup_users, "dup")
        assert db.column(users.name, "login") == ["a"]

    def test_row_count_verification_rolls_back_a_load_that_lost_rows(
        self, url: str, loaded_events: tuple, tmp_path: Path, db: Reader
    ) -> None:
        _, events = loaded_events
        new = events_file(tmp_path / "new.parquet", ["e1", "e2", "e3"], ["u1"] * 3, note="v2")
        with connect(url) as warehouse:
            ShortLoads.wrap(warehouse)
            with pytest.raises(LoadError, match=r"took 3 rows but .* holds 4"):
                warehouse.load_partition(events, new, DAY, marker_for(events, "short"))
        with connect(url) as warehouse:
            self.assert_untouched(warehouse, events, db)

    def test_rows_of_another_date_are_refused_and_nothing_changes(
        self, warehouse: Warehouse, loaded_events: tuple, tmp_path: Path, db: Reader
    ) -> None:
        _, events = loaded_events
        stray = events_file(tmp_path / "stray.parquet", ["e1"], ["u1"], day=DAY, note="v2")
        with pytest.raises(LoadError, match=r"1 rows whose day is not 2025-04-11"):
            warehouse.load_partition(
                events,
                stray,
                DAY + dt.timedelta(days=1),
                marker_for(events, "s", DAY + dt.timedelta(days=1)),
            )
        self.assert_untouched(warehouse, events, db)

    def test_missing_file_and_missing_column_fail_with_a_fix(
        self, warehouse: Warehouse, schema: tuple[TableSpec, TableSpec], tmp_path: Path
    ) -> None:
        users, _ = schema
        with pytest.raises(LoadError, match="run the transform first"):
            self.load_users(warehouse, users, tmp_path / "absent.parquet", "x")
        partial = write_parquet(tmp_path / "p.parquet", {"id": pa.array(["u1"])})
        with pytest.raises(LoadError, match=r"lacks columns \['login', 'score', 'seen_at'\]"):
            self.load_users(warehouse, users, partial, "x")

    # ---- exact values ---------------------------------------------------------------------

    def test_text_escaping_round_trips_byte_identical(
        self, warehouse: Warehouse, tmp_path: Path, prefix: str, db: Reader
    ) -> None:
        table = TableSpec(
            name=f"{prefix}texts",
            partition_column="day",
            columns=(
                Column("day", "date", nullable=False),
                Column("id", "bigint", nullable=False),
                Column("key_text", "text", nullable=False),
                Column("value", "text"),
            ),
            primary_key=("day", "id"),
            indexes=(("key_text",),),
        )
        warehouse.ensure_schema([table])
        values = [*TRICKY_TEXT, LONG_TEXT]
        count = len(values)
        # key_text is an indexed column (VARCHAR in MySQL): the tricky values must survive there
        # too (short ones; the key holds an id suffix so it stays unique).
        keys = [f"{(value or '')[:40]}#{index}" for index, value in enumerate(values)]
        source = write_parquet(
            tmp_path / "texts.parquet",
            {
                "day": pa.array([DAY] * count, pa.date32()),
                "id": pa.array(range(count), pa.int64()),
                "key_text": pa.array(keys, pa.string()),
                "value": pa.array(values, pa.string()),
            },
        )
        warehouse.load_partition(table, source, DAY, marker_for(table, "t"))
        loaded = db.query(
            f"SELECT {db.quote('key_text')}, {db.quote('value')} FROM {db.quote(table.name)} "
            f"ORDER BY {db.quote('id')}"
        )
        expected = pq.read_table(source).select(["key_text", "value"]).to_pylist()
        assert [row[0] for row in loaded] == [row["key_text"] for row in expected]
        for index, (row, want) in enumerate(zip(loaded, expected, strict=True)):
            assert row[1] == want["value"], f"value #{index} {want['value']!r:.60} changed"
        nulls = db.query(
            f"SELECT count(*) FROM {db.quote(table.name)} WHERE {db.quote('value')} IS NULL"
        )
        assert nulls[0][0] == 1  # only the None; "", "NULL", "\\N" are text

    def test_typed_values_round_trip_exactly(
        self, warehouse: Warehouse, tmp_path: Path, prefix: str, db: Reader
    ) -> None:
        table = TableSpec(
            name=f"{prefix}typed",
            partition_column="day",
            columns=(
                Column("day", "date", nullable=False),
                Column("id", "integer", nullable=False),
                Column("big", "bigint"),
                Column("ratio", "double"),
                Column("flag", "boolean"),
                Column("other_date", "date"),
                Column("at", "timestamp"),
                Column("local_at", "timestamp"),
                Column("qty", "decimal(28,8)"),
                Column("value", "decimal(20,2)"),
                Column("tags", "json"),
                Column("doc", "json"),
            ),
            primary_key=("day", "id"),
        )
        warehouse.ensure_schema([table])
        timestamps = [
            dt.datetime(2025, 4, 10, 23, 59, 59, 999999, tzinfo=UTC),
            dt.datetime(1970, 1, 1, tzinfo=UTC),
            dt.datetime(2000, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
            None,
            dt.datetime(2025, 4, 10, 3, 4, 5, 600000, tzinfo=UTC),
        ]
        sao_paulo = pa.array(timestamps, pa.timestamp("us", "UTC")).cast(
            pa.timestamp("ns", "America/Sao_Paulo")
        )
        decimals = [
            Decimal("12345678901234.12345678"),
            Decimal("-0.00000001"),
            Decimal("0E-8"),
            None,
            Decimal("99999999999999999999.99999999"),
        ]
        tags = [
            ["a", 'b"c', "back\\", "tab\t", "nl\n", "🎮", "", "ctrl\x01", "NULL"],
            [],
            None,
            ["x"],
            ["ção", "\\N"],
        ]
        docs = ['{"k": [1, 2.5, null, true], "s": "x\\"y"}', "[]", None, '"just text"', "{}"]
        source = write_parquet(
            tmp_path / "typed.parquet",
            {
                "day": pa.array([DAY] * 5, pa.date32()),
                "id": pa.array(range(5), pa.int32()),
                "big": pa.array([-(2**63), 2**63 - 1, 0, None, 42], pa.int64()),
                "ratio": pa.array([0.1, -1.5e300, 1 / 3, None, 0.30000000000000004]),
                "flag": pa.array([True, False, None, True, False]),
                "other_date": pa.array(
                    [
                        dt.date(1999, 12, 31),
                        dt.date(2038, 1, 19),
                        None,
                        dt.date(2000, 2, 29),
                        dt.date(1000, 1, 1),
                    ],
                    pa.date32(),
                ),
                "at": pa.array(timestamps, pa.timestamp("us", "UTC")),
                "local_at": sao_paulo,
                "qty": pa.array(decimals, pa.decimal128(28, 8)),
                "value": pa.array(
                    [
                        Decimal("0.01"),
                        Decimal("-123456789012345678.99"),
                        None,
                        Decimal("0.00"),
                        Decimal("7.10"),
                    ],
                    pa.decimal128(20, 2),
                ),
                "tags": pa.array(tags, pa.list_(pa.string())),
                "doc": pa.array(docs, pa.string()),
            },
        )
        warehouse.load_partition(table, source, DAY, marker_for(table, "typed"))
        expected = pq.read_table(source).to_pylist()
        rows = db.rows(table.name)
        names = table.column_names
        assert len(rows) == len(expected)
        for got_row, want in zip(rows, expected, strict=True):
            got = dict(zip(names, got_row, strict=True))
            where = f"row id={want['id']}"
            assert db.as_date(got["day"]) == DAY, where
            assert got["big"] == want["big"], where
            assert got["ratio"] == want["ratio"], where
            assert db.as_bool(got["flag"]) == want["flag"], where
            assert db.as_date(got["other_date"]) == want["other_date"], where
            assert db.as_timestamp(got["at"]) == want["at"], where
            assert db.as_timestamp(got["local_at"]) == want["at"], where
            assert db.as_decimal(got["qty"]) == want["qty"], where
            assert db.as_decimal(got["value"]) == want["value"], where
            assert (got["tags"] is None) == (want["tags"] is None), where
            if want["tags"] is not None:
                assert db.as_json(got["tags"]) == want["tags"], where
            assert (got["doc"] is None) == (want["doc"] is None), where
            if want["doc"] is not None:
                assert db.as_json(got["doc"]) == json.loads(want["doc"]), where
