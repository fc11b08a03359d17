"""The package has no import cycles (``python -m tests.import_graph`` prints them)."""

from __future__ import annotations

import pytest

from tests.import_graph import cycles, graph


@pytest.mark.parametrize("packages", [False, True], ids=["modules", "with-package-inits"])
def test_etl_tasks_has_no_import_cycle(packages: bool) -> None:
    edges = graph("etl_tasks", packages)
    assert "etl_tasks.warehouse.model" in edges  # the walk found the package
    assert cycles(edges) == []


def test_a_cycle_is_found() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(edges) == [["a", "b", "c"], ["e"]]
