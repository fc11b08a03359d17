"""Shared helpers of the Twitch day-scale tests: config overrides, sandbox counters, sidecars."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import luigi

from etl_tasks.core.stage import output_root


@contextlib.contextmanager
def settings(section: str, **values: Any) -> Iterator[None]:
    """luigi.cfg values for the duration of a block (restored afterwards)."""
    config = luigi.configuration.get_config()
    saved = {key: config.get(section, key, None) for key in values}
    for key, value in values.items():
        config.set(section, key, value if isinstance(value, str) else json.dumps(value))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                config.remove_option(section, key)
            else:
                config.set(section, key, value)
        luigi.task_register.Register.clear_instance_cache()


def sandbox_calls(sandbox: Any, path: str) -> int:
    """Requests the sandbox counted for ``GET /helix<path>`` (any status)."""
    stats = sandbox.stats()
    return sum(n for key, n in stats["requests"].items() if key == f"twitch:GET /helix{path}")


def partition(stage: str, entity: str, date: dt.date) -> Path:
    return output_root() / "twitch" / stage / entity / f"date={date.isoformat()}"


def sidecar(stage: str, entity: str, date: dt.date) -> dict[str, Any]:
    return json.loads((partition(stage, entity, date) / "_meta.json").read_text("utf-8"))
