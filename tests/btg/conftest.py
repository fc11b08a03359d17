"""Fixtures shared by the BTG end-to-end tests: fast polling through luigi config, landing dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import luigi
import pytest

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


