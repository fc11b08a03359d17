"""The test-only third pipeline's declaration (see ``tests/test_pipelines.py``)."""

from __future__ import annotations

import datetime as dt

from etl_tasks.pipelines import EnvKey, Pipeline


def rerun(date: dt.date) -> list[str]:
    return ["etl-run", "--date", date.isoformat(), "--pipeline", "third"]


PIPELINE = Pipeline(
    name="third",
    title="A third API (tests only)",
    tasks_module="tests.third_pipeline.tasks",
    env_keys=(EnvKey("THIRD_TOKEN", "t0k3n", "token of the third API", required=True),),
    probes=lambda: [],
    calendar="weekdays",
    no_run_reason=lambda date: "a weekend" if date.weekday() >= 5 else None,
    rerun=rerun,
)
