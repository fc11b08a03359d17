"""Shared fixtures: real PostgreSQL/MariaDB databases created and dropped per test run, the sandbox
server as a real subprocess on a free port, and an isolated output directory per test.

Under ``CI=true`` a database that cannot be reached fails the test instead of skipping it.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import luigi
import pytest

from etl_sandbox.launcher import SandboxProcess, start_sandbox

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("ETL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN_URL = os.environ.get("ETL_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
RUN_ID = uuid.uuid4().hex[:10]
REPO_ROOT = Path(__file__).resolve().parent.parent


def unavailable(what: str, error: Exception) -> None:
    """Fail under CI, skip on a developer machine without the service."""
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(message + " (CI=true: database tests must not skip)")
    pytest.skip(message)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    yield from _pg_database(f"etl_test_{RUN_ID}")


_OWN_DATABASES = iter(range(1, 1_000_000))


@pytest.fixture
def own_pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test alone: for tests that count every row of a table, which
    another test of the same process may have loaded into the run's shared ``pg_url``."""
    yield from _pg_database(f"etl_test_{RUN_ID}_{next(_OWN_DATABASES)}")


def _pg_database(name: str) -> Iterator[str]:
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    except Exception as error:
        unavailable("PostgreSQL", error)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    try:
        yield with_database(PG_ADMIN_URL, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """A fresh MariaDB/MySQL database (utf8mb4) for this test run, dropped at the end."""
    pymysql = pytest.importorskip("pymysql")
    parts = urlsplit(MYSQL_ADMIN_URL)
    name = f"etl_test_{RUN_ID}"
    try:
        admin = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            connect_timeout=5,
            autocommit=True,
        )
    except Exception as error:
        unavailable("MySQL/MariaDB", error)
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield with_database(MYSQL_ADMIN_URL, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


Sandbox = SandboxProcess


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    """One sandbox for the whole run (reset by ``sandbox`` before each test that uses it)."""
    server = start_sandbox()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The shared sandbox reset to seed 42 at 2025-04-10T15:00:00Z; client env pointed at it."""
    sandbox_server.control("reset", {"seed": 42})
    sandbox_server.control("clock", {"now": "2025-04-10T15:00:00Z"})
    sandbox_server.clear_faults()
    for key, value in sandbox_server.client_env().items():
        monkeypatch.setenv(key, value)
    return sandbox_server


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated project directory: output/ and logs/ under tmp, Luigi's caches cleared."""
    config = luigi.configuration.get_config()
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").touch()  # an ETL_ENV_FILE that does not exist is a configuration error
    monkeypatch.setenv("ETL_ENV_FILE", str(tmp_path / ".env"))
    monkeypatch.setenv("WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.db'}")
    saved = {key: config.get("paths", key, None) for key in ("output_dir", "logs_dir")}
    config.set("paths", "output_dir", str(tmp_path / "output"))
    config.set("paths", "logs_dir", str(tmp_path / "logs"))
    luigi.task_register.Register.clear_instance_cache()
    yield tmp_path
    for key, value in saved.items():
        if value is None:
            config.remove_option("paths", key) if config.has_section("paths") else None
        else:
            config.set("paths", key, value)
    luigi.task_register.Register.clear_instance_cache()


@pytest.fixture
def fast_retries() -> Iterator[None]:
    """HTTP retries stay real but short (fault tests take seconds); restored afterwards."""
    config = luigi.configuration.get_config()
    keys = {"max_retries": "2", "backoff_base_s": "0.01", "backoff_max_s": "0.05"}
    saved = {key: config.get("http", key, None) for key in keys}
    for key, value in keys.items():
        config.set("http", key, value)
    yield
    for key, value in saved.items():
        if value is None:
            config.remove_option("http", key)
        else:
            config.set("http", key, value)


@pytest.fixture(autouse=True)
def own_log_handlers() -> Iterator[None]:
    """In-process entry points attach file handlers under a test's tmp dir: detach them after."""
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()


# The longest tests (about 2 minutes, then half a minute each, on an idle 2-core machine), started
# first when pytest-xdist spreads the suite over workers: one of them started last would keep one
# worker busy alone at the end. Without workers the order is the files' own.
LONGEST_FIRST = (
    "tests/ops/test_backfill.py::test_120_days_all_run_then_plan_shows_120_complete_rows_",
    "tests/ops/test_scale_out.py::test_two_worker_processes_share_the_graph_and_the_rate_limit",
    "tests/btg/test_realistic_numbers.py::test_twenty_realistic_days_load_with_every_value_at_",
    "tests/ops/test_backfill.py::test_a_killed_backfill_resumes_where_it_stopped",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "numprocesses", None):
        return

    def rank(item: pytest.Item) -> int:
        for index, prefix in enumerate(LONGEST_FIRST):
            if item.nodeid.startswith(prefix):
                return index
        return len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its place
