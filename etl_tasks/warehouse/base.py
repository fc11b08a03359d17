"""Compatibility names for code written before the warehouse package was split.

The table model is :mod:`etl_tasks.warehouse.model`, the backend contract
:mod:`etl_tasks.warehouse.interface` and the scheme-to-backend factory
:mod:`etl_tasks.warehouse.factory`; import from those (or from :mod:`etl_tasks.warehouse`).
This module only re-exports them and is imported by nothing in the package.
"""

from etl_tasks.warehouse.factory import BACKENDS, backend_class, connect
from etl_tasks.warehouse.interface import LoadMarker, Warehouse
from etl_tasks.warehouse.model import (
    ARROW_TYPES,
    AUDIT_TABLE,
    DECIMAL_TYPE,
    LOGICAL_TYPES,
    Column,
    ForeignKey,
    TableSpec,
    arrow_schema,
    arrow_type,
    not_null,
)

__all__ = [
    "ARROW_TYPES", "AUDIT_TABLE", "BACKENDS", "DECIMAL_TYPE", "LOGICAL_TYPES", "Column",
    "ForeignKey", "LoadMarker", "TableSpec", "Warehouse", "arrow_schema", "arrow_type",
    "backend_class", "connect", "not_null",
]
