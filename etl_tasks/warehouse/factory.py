"""Open a warehouse by URL: the scheme picks the backend from :data:`BACKENDS`.

The map names each backend by module and class, imported only when a URL of its scheme is opened:
a SQLite user needs neither psycopg2 nor pymysql installed, and the backends (which import the
interface and the table model) are never imported by what they depend on. A new database is one
backend module plus one line here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from etl_tasks.errors import ConfigError

if TYPE_CHECKING:  # the map itself is read by etl_tasks.warehouse.peek without the backends
    from etl_tasks.warehouse.interface import Warehouse

# URL scheme -> "module:Class" of the backend that serves it.
BACKENDS: dict[str, str] = {
    "postgresql": "etl_tasks.warehouse.postgres:PostgresWarehouse",
    "postgres": "etl_tasks.warehouse.postgres:PostgresWarehouse",
    "mysql": "etl_tasks.warehouse.mysql:MySQLWarehouse",
    "mysql+pymysql": "etl_tasks.warehouse.mysql:MySQLWarehouse",
    "mariadb": "etl_tasks.warehouse.mysql:MySQLWarehouse",
    "sqlite": "etl_tasks.warehouse.sqlite:SQLiteWarehouse",
}


def backend_class(url: str) -> type[Warehouse]:
    """The :class:`Warehouse` class serving ``url``'s scheme, or a :class:`ConfigError`."""
    scheme = url.split(":", 1)[0].lower()
    try:
        module_name, class_name = BACKENDS[scheme].split(":")
    except KeyError:
        raise ConfigError(
            f"unsupported warehouse URL scheme {scheme!r}: use postgresql://, mysql:// or sqlite:///"
        ) from None
    return getattr(importlib.import_module(module_name), class_name)


def connect(url: str) -> Warehouse:
    """A :class:`Warehouse` for a URL: ``postgresql://``, ``mysql://`` (pymysql), ``sqlite:///``."""
    return backend_class(url)(url)
