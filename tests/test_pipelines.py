"""The pipeline registry: a third pipeline is one package and one registry line, and then RunAll,
the report, the status page, the command-line options, backfill dates, validation and the rerun
command cover it with no other change (the package lives in ``tests/third_pipeline``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_tasks import pipelines as registry
from etl_tasks.cli.common import parse_pipelines
from etl_tasks.ops.dates import pipeline_choices, schedule
from etl_tasks.run_all import RunAll
from etl_tasks.validate import check_env
from tests.luigi_helpers import build
from tests.state_helpers import assert_page_matches_disk, assert_report_matches_disk

DATE = dt.date(2025, 4, 10)


@pytest.fixture
def third(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry with one more line."""
    monkeypatch.setattr(
        registry, "PIPELINE_MODULES", (*registry.PIPELINE_MODULES, "tests.third_pipeline.pipeline")
    )
    monkeypatch.setattr(registry, "_REGISTRY", None)
    yield
    registry._REGISTRY = None


def test_a_third_pipeline_runs_and_shows_everywhere(third, workdir: Path) -> None:
    assert registry.names() == ["twitch", "btg", "third"]
    result = build(RunAll(date=DATE, pipelines="third"))
    assert result.ok, result.failed
    assert result.ran == {"ThirdExtractItems", "ThirdTransformItems", "ReportTask", "RunAll"}

    output = workdir / "output"
    report = assert_report_matches_disk(output, DATE.isoformat())
    assert report["pipelines"] == ["twitch", "btg", "third"]
    assert report["pipeline_status"] == {"twitch": "NOT RUN", "btg": "NOT RUN", "third": "SUCCESS"}
    assert report["status"] == "SUCCESS"
    assert report["by_pipeline"]["third"]["transform"]["records"] == 2
    text = (output / f"reports/date={DATE}/report.txt").read_text(encoding="utf-8")
    assert "· 3 items fetched" in text
    page = assert_page_matches_disk(output, DATE.isoformat())
    assert '<th colspan="3">third</th>' in page and "3 items fetched" in page

    assert parse_pipelines("third") == ["third"]
    assert parse_pipelines("all") == ["twitch", "btg", "third"]
    assert pipeline_choices()["all"] == ("twitch", "btg", "third")
    saturday = dt.date(2025, 4, 12)
    assert schedule(saturday, saturday, ["third"]) == []  # its own calendar
    assert registry.rerun_argv(DATE, ["third"]) == [
        "etl-run", "--date", "2025-04-10", "--pipeline", "third"
    ]
    assert registry.rerun_argv(DATE, ["twitch", "third"])[-1] == "twitch,third"
    credentials = [check for check in check_env(["third"]) if check.name == "third credentials"]
    assert credentials and credentials[0].ok and "THIRD_TOKEN" in credentials[0].detail


def test_a_date_without_a_run_due_is_skipped_with_its_reason(third, workdir: Path) -> None:
    from etl_tasks.report import date_state

    saturday = date_state(dt.date(2025, 4, 12))
    assert saturday.pipeline_status("twitch") == "NOT RUN"  # every day: simply not run yet
    for pipeline in ("btg", "third"):  # their calendars have no run that day
        assert saturday.pipeline_status(pipeline) == "SKIPPED"
    reasons = {t.skip_reason for t in saturday.tasks if t.pipeline == "third"}
    assert reasons == {"no run due: a weekend"}
    assert saturday.status == "SKIPPED"


def test_an_unknown_pipeline_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown pipeline 'nope': expected one of twitch, btg"):
        RunAll(date=DATE, pipelines="nope")
    assert json.dumps(registry.names()) == '["twitch", "btg"]'


def test_shared_code_names_no_pipeline() -> None:
    from tests.pipeline_names import WORDS, report, shared_modules

    assert len(shared_modules()) > 40  # the walk found the shared package
    assert WORDS.search("orquestrador-btg")  # the check can see a pipeline's own command
    assert report() == [], "\n".join(report())


def test_the_pipeline_name_check_sees_code_and_not_docstrings(tmp_path: Path) -> None:
    from tests.pipeline_names import naming_lines

    module = tmp_path / "shared.py"
    module.write_text('"""Runs twitch or btg."""\n\nNAME = "twitch"  # the btg one\nOTHER = 1\n')
    assert naming_lines(module) == [(3, 'NAME = "twitch"  # the btg one')]
