"""A read-only, cached look at the warehouses: which load markers and tables exist.

The backfill plan and the invalidation plan must show what is loaded without changing anything
and without failing when a warehouse is down: one connection per URL reads every marker once,
a warehouse that cannot be read is reported as unreachable (with the reason, password masked),
and a SQLite file that does not exist yet is an empty warehouse (not created by looking at it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from etl_tasks.config import redact_url
from etl_tasks.core.redact import redact
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.model import TableSpec
from etl_tasks.warehouse.peek import absent_sqlite_file


@dataclass
class WarehouseState:
    """What one warehouse URL holds, or why it could not be read."""

    url: str
    error: str | None = None
    markers: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, date) -> sha256
    missing: dict[tuple[str, ...], list[str]] = field(default_factory=dict)

    @property
    def reachable(self) -> bool:
        return self.error is None


class WarehouseView:
    """Markers and tables per warehouse URL, read once and cached for the life of the view."""

    def __init__(self) -> None:
        self._states: dict[str, WarehouseState] = {}

    def state(self, url: str) -> WarehouseState:
        """The markers of ``url`` (read on first use)."""
        if url not in self._states:
            self._states[url] = self._read(url)
        return self._states[url]

    def _read(self, url: str) -> WarehouseState:
        state = WarehouseState(url)
        if absent_sqlite_file(url):
            return state
        try:
            with connect(url) as warehouse:
                for row in warehouse.markers():
                    state.markers[(row["table_name"], str(row["partition_key"]))] = row["sha256"]
        except Exception as error:  # any failure to read means "unknown", never a crash
            state.error = redact(f"{type(error).__name__}: {error}")
        return state

    def marker_sha256(self, url: str, table: str, partition: str) -> str | None:
        """sha256 recorded for a loaded partition, None when not loaded; raises nothing."""
        return self.state(url).markers.get((table, partition))

    def missing_tables(self, url: str, tables: Sequence[TableSpec]) -> list[str] | None:
        """Tables (and the audit table) not created yet; None when the warehouse is unreachable."""
        state = self.state(url)
        if not state.reachable:
            return None
        key = tuple(sorted(table.name for table in tables))
        if key not in state.missing:
            if absent_sqlite_file(url):
                state.missing[key] = ["etl_load_audit", *key]
            else:
                try:
                    with connect(url) as warehouse:
                        state.missing[key] = warehouse.missing_tables(tables)
                except Exception as error:  # unknown, like an unreachable warehouse
                    state.error = redact(f"{type(error).__name__}: {error}")
                    return None
        return state.missing[key]

    def problems(self) -> list[str]:
        """One line per warehouse that could not be read."""
        return [
            f"{redact_url(state.url)}: {state.error}"
            for state in self._states.values()
            if not state.reachable
        ]
