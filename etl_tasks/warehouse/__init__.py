"""Warehouse backends (PostgreSQL, MySQL/MariaDB, SQLite) behind one interface, and the
schema/load task templates the pipelines subclass.

``model`` declares tables, ``interface`` is the backend contract, ``factory`` opens a backend by
URL scheme; the backends import those, and nothing imports a backend but the factory (on demand).
"""

from __future__ import annotations

import importlib
from typing import Any

# Exported name -> module; imported on first use, so that reading a warehouse's markers
# (etl_tasks.warehouse.peek, the no-op rerun) does not import Arrow through the table model.
_EXPORTS = {
    "connect": "etl_tasks.warehouse.factory",
    "LoadMarker": "etl_tasks.warehouse.interface",
    "Warehouse": "etl_tasks.warehouse.interface",
    "AUDIT_TABLE": "etl_tasks.warehouse.model",
    "Column": "etl_tasks.warehouse.model",
    "ForeignKey": "etl_tasks.warehouse.model",
    "TableSpec": "etl_tasks.warehouse.model",
}

__all__ = ["AUDIT_TABLE", "Column", "ForeignKey", "LoadMarker", "TableSpec", "Warehouse", "connect"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
