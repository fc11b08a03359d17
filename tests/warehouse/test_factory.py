"""The factory picks a backend by URL scheme; an unknown scheme is a clear configuration error."""

from __future__ import annotations

import pytest

from etl_tasks.errors import ConfigError
from etl_tasks.warehouse.factory import BACKENDS, backend_class, connect
from etl_tasks.warehouse.interface import Warehouse


@pytest.mark.parametrize("scheme", sorted(BACKENDS))
def test_every_scheme_names_a_backend(scheme: str) -> None:
    backend = backend_class(f"{scheme}://host/db")
    assert issubclass(backend, Warehouse)
    assert backend.__module__ == BACKENDS[scheme].split(":")[0]


def test_sqlite_url_opens_a_working_warehouse(tmp_path) -> None:
    with connect(f"sqlite:///{tmp_path / 'w.db'}") as warehouse:
        assert warehouse.ping()
        assert warehouse.markers() == []


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported warehouse URL scheme 'oracle'"):
        connect("oracle://host/db")
