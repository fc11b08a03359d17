"""Warehouse backends (PostgreSQL, MySQL/MariaDB, SQLite) behind one interface, and the
schema/load task templates the pipelines subclass.

``model`` declares tables, ``interface`` is the backend contract, ``factory`` opens a backend by
URL scheme; the backends import those, and nothing imports a backend but the factory (on demand).
"""

from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.interface import LoadMarker, Warehouse
from etl_tasks.warehouse.model import AUDIT_TABLE, Column, ForeignKey, TableSpec

__all__ = ["AUDIT_TABLE", "Column", "ForeignKey", "LoadMarker", "TableSpec", "Warehouse", "connect"]
