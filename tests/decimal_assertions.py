"""Assertions shared by the BTG tests: money never travels as float."""

from __future__ import annotations

from typing import Any


def assert_no_float(value: Any) -> None:
    """Fail if any value inside nested dicts/lists is a float (BTG numbers must be Decimal)."""
    if isinstance(value, dict):
        for item in value.values():
            assert_no_float(item)
    elif isinstance(value, list):
        for item in value:
            assert_no_float(item)
    else:
        assert not isinstance(value, float), value
