"""Fixtures shared by the BTG end-to-end tests: fast polling through luigi config, landing dirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import luigi
import pymysql
import pytest

from tests.conftest import with_database

FAST_SETTINGS = {
    ("btg", "poll_initial_s"): "0.01",
    ("btg", "poll_max_interval_s"): "0.05",
    ("btg", "poll_deadline_s"): "5",
    ("btg", "not_found_grace_s"): "2",
    ("http", "max_retries"): "2",
    ("http", "backoff_base_s"): "0.01",
    ("http", "backoff_max_s"): "0.05",
}


@pytest.fixture(autouse=True)
def fast_luigi_settings() -> Iterator[dict[tuple[str, str], str]]:
    """Tiny polling intervals and fast retries through luigi config; restored afterwards."""
    config = luigi.configuration.get_config()
    saved = {key: config.get(*key, None) for key in FAST_SETTINGS}
    for (section, option), value in FAST_SETTINGS.items():
        config.set(section, option, value)
    yield FAST_SETTINGS
    for (section, option), value in saved.items():
        if value is None:
            config.remove_option(section, option)
        else:
            config.set(section, option, value)


@pytest.fixture
def landing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Landing directories from the environment (the defaults RunAll uses)."""
    dirs = {"carteira": workdir / "landing" / "carteira",
            "rentabilidade": workdir / "landing" / "rentabilidade"}
    monkeypatch.setenv("BTG_REPORT_PATH", str(dirs["carteira"]))
    monkeypatch.setenv("BTG_RENTABILIDADE", str(dirs["rentabilidade"]))
    return dirs




@pytest.fixture
def fresh_mysql(mysql_url: str) -> Iterator[str]:
    """A database of its own (the session's is shared with tests that create current tables)."""
    name = f"etl_mig_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(mysql_url)
    admin = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                            user=parts.username or "root", password=parts.password or "",
                            autocommit=True)
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield with_database(mysql_url, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()
