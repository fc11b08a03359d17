"""Warehouse backends (PostgreSQL, MySQL/MariaDB, SQLite) behind one interface, and the
schema/load task templates the pipelines subclass."""

from etl_tasks.warehouse.base import (
    AUDIT_TABLE,
    Column,
    ForeignKey,
    LoadMarker,
    TableSpec,
    Warehouse,
    connect,
)

__all__ = ["AUDIT_TABLE", "Column", "ForeignKey", "LoadMarker", "TableSpec", "Warehouse", "connect"]
