"""BTG JSON schema drift end to end: fields a newer API adds are named and kept, never dropped.

Run: .venv/bin/pytest tests/btg/test_schema_drift.py
"""

from __future__ import annotations

import datetime as dt
import json

from etl_tasks.btg.extract import BtgExtractRentabilidade
from etl_tasks.btg.tasks import final_tasks
from etl_tasks.btg.transform_tasks import BtgTransformRentabilidade
from tests.luigi_helpers import build

DATE = dt.date(2025, 4, 10)


def test_added_fields_are_recorded_by_name_and_kept_in_the_raw_pages(sandbox, workdir,
                                                                     landing) -> None:
    sandbox.control("config", {"btg_added_fields": True})
    result = build(*final_tasks(DATE))
    assert result.ok, result.failed
    extract = BtgExtractRentabilidade(date=DATE).output().meta().extra
    assert extract["new_fields"] == ["page.generatedAt"]
    assert "page.generatedAt" in extract["notes"][0]
    transform = BtgTransformRentabilidade(date=DATE).output().meta().extra
    assert transform["new_fields"] == ["benchmarkName"]
    assert any("benchmarkName" in note for note in transform["notes"])
    page = json.loads((landing["rentabilidade"] / DATE.isoformat() / "page-1.json").read_text())
    assert page["generatedAt"] and all(record["benchmarkName"] == "CDI"
                                       for fund in page["result"] for record in fund["data"])
