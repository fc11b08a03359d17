"""The project's warehouse loader against the fastest native bulk load of the same data.

    python -m benchmarks.load_benchmark --rows 1000000 --target postgres|mysql|sqlite|both
        [--repeat 3] [--data-dir DIR] [--no-adbc] [--baseline-code DIR]

For each target, in one run:

1. generate ``--rows`` rows in API (random key) order into Parquet — stream-like rows for
   PostgreSQL and SQLite (id, user, game, title with unicode/quotes/backslashes/tabs,
   viewer_count, started_at, tags as ``list<string>`` → jsonb, is_mature, captured_at,
   snapshot_date), position-like rows for MySQL (fund CNPJ, date, section, asset code, ISIN,
   decimal(28,8) quantity and price, decimal(20,2) value, ...); with ``--data-dir`` the files
   are kept there and reused by later runs;
2. create fresh databases with the loader's own DDL (``ensure_schema``);
3. (a) load the Parquet file with the project's loader (``Warehouse.load_partition``) in a child
   process, which reports its wall time and its peak RSS (``VmHWM`` from ``/proc/self/status``, and
   the same after imports as the interpreter baseline); the parent cross-checks the peak with
   ``wait4``'s ``ru_maxrss`` of that child;
   (b) load the same rows with the native client from a ready CSV file, written beforehand and not
   timed: ``psql -c "\\copy t FROM file CSV"``, and for MySQL ``mysql --local-infile=1 -e
   "LOAD DATA LOCAL INFILE ..."`` of the file already sorted by primary key;
   (c) PostgreSQL only (unless ``--no-adbc``): the same partition transaction through ADBC's
   ``adbc_ingest`` (binary COPY from Arrow), the alternative the loader was measured against;
   SQLite has no native bulk client: its loader is compared with the loader of another checkout
   (``--baseline-code DIR``: a directory holding that checkout's ``etl_tasks`` package);
4. repeat ``--repeat`` times (default 3), alternating which load goes first, each from a
   settled server (PostgreSQL ``CHECKPOINT``; InnoDB dirty pages flushed by lowering
   ``innodb_max_dirty_pages_pct`` to 0 for a moment), so neither load pays for the other's
   background writes; print every round, the medians, their ratios and the peak RSS; drop the
   databases.

Targets (issue 11): PostgreSQL loader <= 0.7x ``psql \\copy``, MySQL loader <= 1.05x sorted
``LOAD DATA``, loader peak RSS <= 400 MiB, SQLite >= 1.5x the baseline's rows/s. The exit status
is 1 if a target is missed. Server URLs: ``ETL_BENCH_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``) and ``ETL_BENCH_MYSQL_URL`` (default
``mysql://root@127.0.0.1:3306/mysql``); the databases created are ``etl_bench_<random>_*``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl_tasks.warehouse.csv_stream import csv_bytes, csv_options
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.interface import LoadMarker
from etl_tasks.warehouse.key_sort import key_order
from etl_tasks.warehouse.model import Column, TableSpec
from etl_tasks.warehouse.parquet_source import ParquetSource
from etl_tasks.warehouse.render import MYSQL, POSTGRES, Rendering, render_batch

PARTITION = dt.date(2025, 4, 10)
ROW_GROUP_ROWS = 131_072
MAX_RATIO = {"postgres": 0.7, "mysql": 1.05}  # loader / native, median of the rounds
MAX_PEAK_MIB = 400.0
MIN_SQLITE_SPEEDUP = 1.5  # this loader's rows/s over the --baseline-code loader's
SETTLE_SECONDS = 120.0
SETTLED_DIRTY_PAGES = 64

STREAMS = TableSpec(
    name="bench_streams",
    partition_column="snapshot_date",
    columns=(
        Column("snapshot_date", "date", nullable=False),
        Column("id", "text", nullable=False),
        Column("user_id", "text", nullable=False),
        Column("user_login", "text", nullable=False),
        Column("game_id", "text"),
        Column("game_name", "text", nullable=False),
        Column("type", "text", nullable=False),
        Column("title", "text", nullable=False),
        Column("viewer_count", "bigint", nullable=False),
        Column("started_at", "timestamp", nullable=False),
        Column("language", "text", nullable=False),
        Column("thumbnail_url", "text", nullable=False),
        Column("tags", "json"),
        Column("is_mature", "boolean"),
        Column("captured_at", "timestamp", nullable=False),
    ),
    primary_key=("snapshot_date", "id"),
)

POSITIONS = TableSpec(
    name="bench_positions",
    partition_column="data_posicao",
    columns=(
        Column("cnpj_fundo", "text", nullable=False),
        Column("data_posicao", "date", nullable=False),
        Column("secao", "text", nullable=False),
        Column("codativo", "text", nullable=False),
        Column("isin", "text"),
        Column("descricao", "text", nullable=False),
        Column("emissor", "text"),
        Column("vencimento", "date"),
        Column("quantidade", "decimal(28,8)", nullable=False),
        Column("preco", "decimal(28,8)", nullable=False),
        Column("valor", "decimal(20,2)", nullable=False),
        Column("pct_patrimonio", "decimal(12,10)"),
    ),
    primary_key=("cnpj_fundo", "data_posicao", "secao", "codativo"),
)


# ---- data ------------------------------------------------------------------------------------


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(str), pa.string())


def _with_nulls(values: pa.Array, rng: np.random.Generator, share: float) -> pa.Array:
    mask = pa.array(rng.random(len(values)) < share)
    return pc.if_else(mask, pa.scalar(None, values.type), values)


def _decimal(rng: np.random.Generator, rows: int, whole_max: int, scale: int, precision: int):
    whole = _text(rng.integers(0, whole_max, rows))
    fraction = pc.utf8_lpad(_text(rng.integers(0, 10**scale, rows)), scale, "0")
    return pc.binary_join_element_wise(whole, fraction, ".").cast(pa.decimal128(precision, scale))


def _tags(rng: np.random.Generator, rows: int) -> pa.Array:
    vocabulary = np.array(
        [
            "English",
            "Português",
            "FPS",
            "日本語",
            "RPG",
            'say "hi"',
            "Chill",
            "back\\slash",
            "Speedrun",
            "🎮",
        ],
        dtype=object,
    )
    lengths = rng.integers(0, 4, rows)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    items = pa.array(vocabulary[rng.integers(0, len(vocabulary), int(lengths.sum()))], pa.string())
    return pa.ListArray.from_arrays(
        pa.array(offsets), items, mask=pa.array(rng.random(rows) < 0.05)
    )


def stream_rows(rows: int, seed: int = 7) -> pa.Table:
    """Stream-like rows in random id order (as the API pages them)."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(40_000_000_000, 40_000_000_000 + rows * 7, 7))
    users = rng.integers(10_000_000, 999_999_999, rows)
    games = rng.integers(1, 3000, rows)
    titles = np.array(
        [
            f'stream {i} — manhã de papo 🎮 "ao vivo"\ttab back\\slash, vírgula \\N NULL'
            if i % 7 == 0
            else f"playing game {i} with friends!"
            for i in range(5000)
        ],
        dtype=object,
    )
    game_names = np.array([f"Game {i}: the sequel ™" for i in range(3000)], dtype=object)
    now = np.datetime64("2025-04-10T15:00:00.123456", "us")
    started = now - rng.integers(0, 36_000_000_000, rows).astype("timedelta64[us]")
    utc = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "snapshot_date": pa.array(np.full(rows, np.datetime64(PARTITION, "D"))),
            "id": _text(ids),
            "user_id": _text(users),
            "user_login": pa.array(np.char.add("user_", users.astype(str))),
            "game_id": _with_nulls(_text(games), rng, 0.02),
            "game_name": pa.array(game_names[games], pa.string()),
            "type": pa.array(np.full(rows, "live")),
            "title": pa.array(titles[rng.integers(0, len(titles), rows)], pa.string()),
            "viewer_count": pa.array(rng.integers(0, 200_000, rows)),
            "started_at": pa.array(started).cast(utc),
            "language": pa.array(
                np.array(["en", "pt", "ja", "es", "de"])[rng.integers(0, 5, rows)]
            ),
            "thumbnail_url": pa.array(
                np.char.add(
                    np.char.add(
                        "https://static-cdn.jtvnw.net/previews-ttv/live_user_", users.astype(str)
                    ),
                    "-{width}x{height}.jpg",
                )
            ),
            "tags": _tags(rng, rows),
            "is_mature": _with_nulls(pa.array(rng.random(rows) < 0.3), rng, 0.01),
            "captured_at": pa.array(np.full(rows, now)).cast(utc),
        }
    )


def position_rows(rows: int, seed: int = 11) -> pa.Table:
    """Portfolio-position-like rows (500 funds) in random key order."""
    rng = np.random.default_rng(seed)
    funds = 500
    per_fund = -(-rows // funds)
    cnpjs = _text(rng.integers(10**13, 10**14 - 1, funds)).to_numpy(zero_copy_only=False)
    order = rng.permutation(funds * per_fund)[:rows]
    fund, asset = order // per_fund, order % per_fund
    sections = np.array(
        [
            "acoes",
            "titpublico",
            "cotas",
            "caixa",
            "futuros",
            "opcoes",
            "debentures",
            "compromissada",
        ]
    )
    expiry = np.datetime64("2025-01-01", "D") + rng.integers(0, 3000, rows).astype("timedelta64[D]")
    return pa.table(
        {
            "cnpj_fundo": pa.array(cnpjs[fund], pa.string()),
            "data_posicao": pa.array(np.full(rows, np.datetime64(PARTITION, "D"))),
            "secao": pa.array(sections[asset % len(sections)]),
            "codativo": pa.array(np.char.add("ATV", asset.astype(str))),
            "isin": _with_nulls(
                pa.array(np.char.add("BRXXXX", np.char.zfill(asset.astype(str), 6))), rng, 0.1
            ),
            "descricao": pa.array(np.char.add("Ativo número ", asset.astype(str))),
            "emissor": _with_nulls(
                pa.array(np.char.add("Emissor ", (asset % 300).astype(str))), rng, 0.2
            ),
            "vencimento": _with_nulls(pa.array(expiry), rng, 0.3),
            "quantidade": _decimal(rng, rows, 10**12, 8, 28),
            "preco": _decimal(rng, rows, 10**6, 8, 28),
            "valor": _decimal(rng, rows, 10**15, 2, 20),
            "pct_patrimonio": _with_nulls(_decimal(rng, rows, 1, 10, 12), rng, 0.05),
        }
    )


def write_native_csv(
    parquet: Path, table: TableSpec, rendering: Rendering, null_token: str, sort: bool, out: Path
) -> None:
    """The CSV the native client loads: same rendering as the loader; sorted by key if ``sort``."""
    data = pq.read_table(parquet, columns=table.column_names)
    if sort:
        data = data.take(pa.array(key_order(data.select(list(table.primary_key)))))
    options = csv_options(null_token)
    with open(out, "wb") as handle:
        for batch in data.to_batches(max_chunksize=65_536):
            handle.write(memoryview(csv_bytes(render_batch(batch, table, rendering), options)))


# ---- databases -------------------------------------------------------------------------------


@dataclass
class Target:
    """One benchmark target: its server, table, data and native command."""

    name: str
    admin_url: str
    table: TableSpec
    rows: Callable[[int], pa.Table]
    rendering: Rendering
    null_token: str
    sort: bool

    def database_url(self, database: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{database}"))

    def create_database(self, database: str) -> None:
        self._admin(
            f"CREATE DATABASE {self._quoted(database)}"
            + (" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" if self.name == "mysql" else "")
        )

    def drop_database(self, database: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {self._quoted(database)}")

    def _quoted(self, name: str) -> str:
        return f"`{name}`" if self.name == "mysql" else f'"{name}"'

    def _mysql_admin(self) -> Any:
        """An autocommit pymysql connection to the admin URL's server."""
        import pymysql

        parts = urlsplit(self.admin_url)
        return pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            autocommit=True,
        )

    def _admin(self, sql: str) -> None:
        if self.name == "postgres":
            import psycopg2

            connection = psycopg2.connect(self.admin_url, connect_timeout=10)
            connection.autocommit = True
        else:
            connection = self._mysql_admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()

    def native_command(self, database: str, csv_path: Path) -> tuple[list[str], dict[str, str]]:
        parts = urlsplit(self.admin_url)
        columns = ", ".join(self.table.column_names)
        env = dict(os.environ)
        if self.name == "postgres":
            if parts.password:
                env["PGPASSWORD"] = unquote(parts.password)
            command = [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                parts.hostname or "",
                "-p",
                str(parts.port or 5432),
                "-U",
                unquote(parts.username or "postgres"),
                "-d",
                database,
                "-c",
                f"\\copy {self.table.name} ({columns}) FROM '{csv_path}' CSV",
            ]
            return command, env
        if parts.password:
            env["MYSQL_PWD"] = unquote(parts.password)
        statement = (
            f"LOAD DATA LOCAL INFILE '{csv_path}' INTO TABLE {self.table.name} "
            "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
            f"ESCAPED BY '' LINES TERMINATED BY '\\n' ({columns}); SHOW WARNINGS"
        )
        command = [
            "mysql",
            "--local-infile=1",
            "-h",
            parts.hostname or "",
            "-P",
            str(parts.port or 3306),
            "-u",
            unquote(parts.username or "root"),
            database,
            "-e",
            statement,
        ]
        return command, env

    def settle(self) -> None:
        """Start each timed load from a quiet server: no dirty pages left by the previous load
        (whose background flushing would otherwise slow down whichever load runs next)."""
        if self.name == "postgres":
            self._admin("CHECKPOINT")
            return
        connection = self._mysql_admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT @@GLOBAL.innodb_max_dirty_pages_pct")
                previous = cursor.fetchone()[0]
                cursor.execute("SET GLOBAL innodb_max_dirty_pages_pct = 0")
                deadline = time.monotonic() + SETTLE_SECONDS
                try:
                    while time.monotonic() < deadline:
                        cursor.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
                        if int(cursor.fetchone()[1]) < SETTLED_DIRTY_PAGES:
                            break
                        time.sleep(0.25)
                finally:
                    cursor.execute(f"SET GLOBAL innodb_max_dirty_pages_pct = {float(previous)}")
        finally:
            connection.close()


def targets(selected: str) -> list[Target]:
    pg = os.environ.get("ETL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    my = os.environ.get("ETL_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql")
    every = [
        Target("postgres", pg, STREAMS, stream_rows, POSTGRES, "", sort=False),
        Target("mysql", my, POSITIONS, position_rows, MYSQL, "NULL", sort=True),
    ]
    return [target for target in every if selected in ("both", target.name)]


# ---- measuring -------------------------------------------------------------------------------


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM), KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_generate(target_name: str, rows: int, workdir: str) -> None:
    """Run inside a child (so the parent stays small): write the Parquet file and the native CSV."""
    target = next(t for t in targets(target_name) if t.name == target_name)
    parquet, csv_path = data_paths(target, Path(workdir), rows)
    pq.write_table(target.rows(rows), parquet, row_group_size=ROW_GROUP_ROWS)
    write_native_csv(
        parquet, target.table, target.rendering, target.null_token, target.sort, csv_path
    )


def child_load(table_name: str, parquet: str) -> None:
    """Run inside the child: one load_partition, then a JSON line with time and memory.

    The URL comes in the environment (``ETL_BENCH_CHILD_URL``), never on the command line."""
    url = os.environ["ETL_BENCH_CHILD_URL"]
    table = {spec.name: spec for spec in (STREAMS, POSITIONS)}[table_name]
    rows = ParquetSource(Path(parquet), table).num_rows
    baseline = peak_rss_kib()
    marker = LoadMarker("benchmark", table.name, PARTITION.isoformat(), "bench", rows)
    started = time.perf_counter()
    with connect(url) as warehouse:
        loaded = warehouse.load_partition(table, Path(parquet), PARTITION, marker)
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "rows": loaded,
        "peak_kib": peak_rss_kib(),
        "baseline_kib": baseline,
        "sort": getattr(warehouse, "last_sort_strategy", ""),
    }
    print(json.dumps(result))


def child_adbc(table_name: str, parquet: str) -> None:
    """Run inside the child: the same partition transaction through ADBC's ``adbc_ingest``
    (binary COPY from Arrow, ``adbc-driver-postgresql`` with its own libpq), for comparison.

    jsonb takes the binary form, so the JSON text gets the version byte ``\\x01``."""
    import adbc_driver_postgresql.dbapi as adbc

    from etl_tasks.warehouse.arrow_text import json_column

    url = os.environ["ETL_BENCH_CHILD_URL"]
    table = {spec.name: spec for spec in (STREAMS, POSITIONS)}[table_name]
    baseline = peak_rss_kib()
    started = time.perf_counter()
    source = ParquetSource(Path(parquet), table, PARTITION)
    version = pa.scalar(b"\x01", pa.binary())

    def converted() -> Any:
        for batch in source.batches():
            columns = []
            for column, values in zip(table.columns, batch.columns, strict=True):
                if column.type == "json":
                    text = json_column(values).cast(pa.binary())
                    values = pc.binary_join_element_wise(version, text, pa.scalar(b""))
                columns.append(values)
            yield pa.RecordBatch.from_arrays(columns, names=table.column_names)

    first = next(converted())
    reader = pa.RecordBatchReader.from_batches(first.schema, converted())
    with adbc.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table.name} WHERE {table.partition_column} = '{PARTITION}'")
        loaded = cursor.adbc_ingest(table.name, reader, mode="append")
        connection.commit()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": loaded,
                "peak_kib": peak_rss_kib(),
                "baseline_kib": baseline,
                "sort": "",
            }
        )
    )


def run_child(
    arguments: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[str, int]:
    """Run ``python -m benchmarks.load_benchmark <arguments>``; its stdout and its own peak RSS
    (KiB, from ``wait4``: this child's ``ru_maxrss`` alone, not the max over all children)."""
    command = [sys.executable, "-m", "benchmarks.load_benchmark", *arguments]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, cwd=cwd
    )
    stdout, stderr = child.stdout.read(), child.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"benchmark child {arguments[0]} failed:\n{stderr[-4000:]}")
    return stdout, usage.ru_maxrss


def run_loader(
    url: str, table: TableSpec, parquet: Path, kind: str = "load", code: Path | None = None
) -> dict:
    """One load in a child: ``kind`` "load" (load_partition) or "adbc"; ``code``: import
    ``etl_tasks`` from that directory instead (another checkout, e.g. main, for a before/after)."""
    env = {**os.environ, "ETL_BENCH_CHILD_URL": url}
    if code is not None:
        # ``python -m`` puts the working directory first on sys.path: run there, so its
        # etl_tasks wins, and find this benchmark module through PYTHONPATH.
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    stdout, maxrss = run_child([f"--child-{kind}", table.name, str(parquet)], env, cwd=code)
    result = json.loads(stdout.strip().splitlines()[-1])
    result["wait4_maxrss_kib"] = maxrss
    return result


def run_native(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or done.stdout.strip():
        raise SystemExit(
            f"native load failed or warned:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return seconds


def data_paths(target: Target, workdir: Path, rows: int) -> tuple[Path, Path]:
    stem = f"{target.table.name}-{rows}"
    return workdir / f"{stem}.parquet", workdir / f"{stem}.csv"


def one_round(
    target: Target, parquet: Path, csv_path: Path, loader_first: bool, with_adbc: bool
) -> tuple[float, dict, int, int, dict | None]:
    """Native and loader loads (and ADBC's, for PostgreSQL), each into its own fresh database
    from a settled server; returns (native seconds, loader result, native rows, loader rows,
    ADBC result). The order alternates between rounds."""
    run_id = uuid.uuid4().hex[:8]
    kinds = ["loader", "native"] + (["adbc"] if with_adbc else [])
    databases = {kind: f"etl_bench_{run_id}_{kind}" for kind in kinds}
    native_url = target.database_url(databases["native"])
    loader_url = target.database_url(databases["loader"])
    adbc = None
    try:
        for database in databases.values():
            target.create_database(database)
            with connect(target.database_url(database)) as warehouse:
                warehouse.ensure_schema([target.table])
        order = kinds if loader_first else list(reversed(kinds))
        for kind in order:
            target.settle()
            if kind == "native":
                native = run_native(*target.native_command(databases["native"], csv_path))
            elif kind == "loader":
                loaded = run_loader(loader_url, target.table, parquet)
            else:
                adbc = run_loader(
                    target.database_url(databases["adbc"]), target.table, parquet, kind="adbc"
                )
        with connect(native_url) as warehouse:
            native_rows = warehouse.count_rows(target.table.name)
        with connect(loader_url) as warehouse:
            loader_rows = warehouse.count_rows(target.table.name)
    finally:
        for database in databases.values():
            target.drop_database(database)
    return native, loaded, native_rows, loader_rows, adbc


def benchmark(target: Target, rows: int, repeat: int, workdir: Path, with_adbc: bool) -> bool:
    """Measure one target; print the result; True when both targets are met."""
    print(f"\n== {target.name}: {rows:,} rows into {target.table.name} ==", flush=True)
    parquet, csv_path = data_paths(target, workdir, rows)
    started = time.perf_counter()
    if not (parquet.exists() and csv_path.exists()):  # --data-dir keeps them between runs
        run_child(["--child-generate", target.name, str(rows), str(workdir)])
    print(
        f"data: {parquet.stat().st_size / 2**20:.0f} MiB Parquet, "
        f"{csv_path.stat().st_size / 2**20:.0f} MiB CSV{' (sorted by key)' if target.sort else ''}"
        f" ({time.perf_counter() - started:.1f} s to generate, not timed)",
        flush=True,
    )
    natives, loads, adbcs, counts_ok = [], [], [], True
    for round_number in range(1, repeat + 1):
        loader_first = round_number % 2 == 0  # alternate, so neither always runs second
        native, loaded, native_rows, loader_rows, adbc = one_round(
            target, parquet, csv_path, loader_first, with_adbc
        )
        natives.append(native)
        loads.append(loaded)
        counts_ok = counts_ok and native_rows == loader_rows == rows
        extra = ""
        if adbc is not None:
            adbcs.append(adbc)
            counts_ok = counts_ok and adbc["rows"] == rows
            extra = f", adbc {adbc['seconds']:6.2f} s"
        print(
            f"round {round_number}: native {native:6.2f} s, loader {loaded['seconds']:6.2f} s "
            f"(ratio {loaded['seconds'] / native:.2f}){extra}; rows {native_rows:,} / "
            f"{loader_rows:,}",
            flush=True,
        )
    native_median = statistics.median(natives)
    loader_median = statistics.median(result["seconds"] for result in loads)
    ratio = loader_median / native_median
    best_ratio = min(result["seconds"] for result in loads) / min(natives)
    peak = max(loads, key=lambda result: result["peak_kib"])
    peak_mib, baseline_mib = peak["peak_kib"] / 1024, peak["baseline_kib"] / 1024
    label = "psql \\copy" if target.name == "postgres" else "mysql LOAD DATA, sorted file"
    print(f"native ({label}), median:".ljust(40) + f"{native_median:6.2f} s")
    print(
        "loader (load_partition), median:".ljust(40)
        + f"{loader_median:6.2f} s"
        + (f"  (sort strategy: {peak['sort']})" if peak["sort"] else "")
    )
    print(
        "ratio loader/native, of medians:".ljust(40)
        + f"{ratio:6.2f}   (best-of-{repeat}: {best_ratio:.2f}; target <= "
        f"{MAX_RATIO[target.name]})"
    )
    if adbcs:
        adbc_median = statistics.median(result["seconds"] for result in adbcs)
        adbc_peak = max(result["peak_kib"] for result in adbcs) / 1024
        print("adbc_ingest (same transaction), median:".ljust(40) + f"{adbc_median:6.2f} s")
        print(
            "ratio adbc/native; loader/adbc:".ljust(40)
            + f"{adbc_median / native_median:6.2f}; {loader_median / adbc_median:.2f}   "
            f"(adbc peak RSS {adbc_peak:.0f} MiB)"
        )
    print(
        "loader peak RSS (VmHWM):".ljust(40) + f"{peak_mib:6.0f} MiB (interpreter + imports "
        f"{baseline_mib:.0f} MiB, so the load itself {peak_mib - baseline_mib:.0f} MiB; wait4 "
        f"ru_maxrss {peak['wait4_maxrss_kib'] / 1024:.0f} MiB; target <= {MAX_PEAK_MIB:.0f})"
    )
    if not counts_ok:
        print("ROW COUNTS DIFFER")
    return counts_ok and ratio <= MAX_RATIO[target.name] and peak_mib <= MAX_PEAK_MIB


def benchmark_sqlite(rows: int, repeat: int, workdir: Path, baseline_code: Path | None) -> bool:
    """SQLite has no native bulk client to compare with: this loader's rows/s against the loader
    of another checkout (``--baseline-code``, e.g. an export of main's ``etl_tasks``), same
    stream rows, each round into fresh database files, order alternating."""
    print(f"\n== sqlite: {rows:,} rows into {STREAMS.name} ==", flush=True)
    stream_target = next(t for t in targets("postgres"))
    parquet, csv_path = data_paths(stream_target, workdir, rows)
    if not (parquet.exists() and csv_path.exists()):
        run_child(["--child-generate", "postgres", str(rows), str(workdir)])
    kinds = ["loader"] + (["baseline"] if baseline_code is not None else [])
    results: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for round_number in range(1, repeat + 1):
        order = kinds if round_number % 2 else list(reversed(kinds))
        line = []
        for kind in order:
            database = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
            url = f"sqlite:///{database}"
            try:
                with connect(url) as warehouse:
                    warehouse.ensure_schema([STREAMS])
                result = run_loader(
                    url, STREAMS, parquet, code=baseline_code if kind == "baseline" else None
                )
                with connect(url) as warehouse:
                    counted = warehouse.count_rows(STREAMS.name)
            finally:
                for leftover in workdir.glob(f"{database.name}*"):
                    leftover.unlink()
            if counted != rows or result["rows"] != rows:
                raise SystemExit(f"sqlite {kind} loaded {counted} rows, expected {rows}")
            results[kind].append(result)
            line.append(
                f"{kind} {result['seconds']:6.2f} s ({rows / result['seconds']:,.0f} rows/s)"
            )
        print(f"round {round_number}: " + ", ".join(line), flush=True)
    medians = {
        kind: statistics.median(r["seconds"] for r in found) for kind, found in results.items()
    }
    peak = max(r["peak_kib"] for r in results["loader"]) / 1024
    print(
        "loader, median:".ljust(40) + f"{medians['loader']:6.2f} s "
        f"({rows / medians['loader']:,.0f} rows/s); peak RSS {peak:.0f} MiB"
    )
    met = peak <= MAX_PEAK_MIB
    if baseline_code is not None:
        speedup = medians["baseline"] / medians["loader"]
        base_peak = max(r["peak_kib"] for r in results["baseline"]) / 1024
        print(
            "baseline loader, median:".ljust(40) + f"{medians['baseline']:6.2f} s "
            f"({rows / medians['baseline']:,.0f} rows/s); peak RSS {base_peak:.0f} MiB"
        )
        print(
            "speed-up loader/baseline (rows/s):".ljust(40)
            + f"{speedup:6.2f}   (target >= {MIN_SQLITE_SPEEDUP})"
        )
        met = met and speedup >= MIN_SQLITE_SPEEDUP
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--target", choices=("postgres", "mysql", "sqlite", "both"), default="both")
    parser.add_argument(
        "--no-adbc", action="store_true", help="skip the ADBC adbc_ingest load (PostgreSQL)"
    )
    parser.add_argument(
        "--baseline-code",
        type=Path,
        default=None,
        help="sqlite: a directory holding another checkout's etl_tasks package to compare with",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds per target; medians are compared"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where to write the Parquet/CSV files (default: a temporary dir)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the generated Parquet/CSV files here and reuse them in later runs",
    )
    parser.add_argument(
        "--child-load", nargs=2, metavar=("TABLE", "PARQUET"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--child-adbc", nargs=2, metavar=("TABLE", "PARQUET"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--child-generate", nargs=3, metavar=("TARGET", "ROWS", "DIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child_load:
        child_load(*args.child_load)
        return 0
    if args.child_adbc:
        child_adbc(*args.child_adbc)
        return 0
    if args.child_generate:
        name, rows, workdir = args.child_generate
        child_generate(name, int(rows), workdir)
        return 0
    met = True
    with contextlib.ExitStack() as stack:
        if args.data_dir is not None:
            args.data_dir.mkdir(parents=True, exist_ok=True)
            workdir = str(args.data_dir)
        else:
            workdir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="etl-bench-", dir=args.workdir)
            )
        repeat = max(args.repeat, 1)
        if args.target == "sqlite":
            met = benchmark_sqlite(args.rows, repeat, Path(workdir), args.baseline_code)
        for target in targets(args.target):
            with_adbc = target.name == "postgres" and not args.no_adbc
            met = benchmark(target, args.rows, repeat, Path(workdir), with_adbc) and met
    print("\nall targets met" if met else "\nTARGET MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
