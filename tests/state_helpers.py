"""Read the state of a date straight from the files on disk, and compare report.json and the status
page with it. The reading here is the test's own (directory walk, JSON files, timestamps), not the
report module's, so a report that drifts from the sidecars fails the comparison."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

SEED_STAGES = ("extract", "transform", "load")


@dataclass(frozen=True)
class OnDisk:
    """One task partition as its files say."""

    pipeline: str
    stage: str
    entity: str
    status: str
    rows: int
    error: str | None


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def on_disk(output: Path, date: str) -> dict[str, OnDisk]:
    """Every task partition of ``date`` under ``output/<pipeline>/<stage>/<entity>/``, by family."""
    found: dict[str, OnDisk] = {}
    for directory in sorted(output.glob(f"*/*/*/date={date}")):
        pipeline, stage, entity = directory.relative_to(output).parts[:3]
        meta = read_json(directory / "_meta.json")
        failed = read_json(directory / "_failed.json")
        document = meta or failed
        if document is None:
            continue
        if failed and (meta is None or failed["failed_at"] > meta["finished_at"]):
            status, rows, error = "FAILED", 0, f"{failed['error_type']}: {failed['message']}"
        elif meta:
            status = "SKIPPED" if meta.get("status") == "skipped" else "SUCCESS"
            rows, error = int(meta.get("rows") or 0), None
        found[document["task_family"]] = OnDisk(pipeline, stage, entity, status, rows, error)
    return found


def report_of(output: Path, date: str) -> dict[str, Any]:
    document = read_json(output / "reports" / f"date={date}" / "report.json")
    assert document is not None, f"no report.json for {date}"
    return document


def assert_report_matches_disk(output: Path, date: str) -> dict[str, Any]:
    """report.json lists every registered pipeline and every task with the status and rows its
    files say; a task with nothing on disk is NOT RUN (a schema check: its tables may come from
    another date; a pipeline with no run due that day: skipped)."""
    report = report_of(output, date)
    disk = on_disk(output, date)
    tasks = {task["task_family"]: task for task in report["tasks"]}
    assert set(disk) <= set(tasks), set(disk) - set(tasks)
    for family, task in tasks.items():
        if family in disk:
            expected = (disk[family].status, disk[family].rows)
            assert (task["status"], task["rows"]) == expected, family
            if disk[family].error:
                assert disk[family].error.split("\n")[0][:60] in task["error"], family
        elif task["stage"] == "schema":
            assert task["status"] in ("SUCCESS", "FAILED"), family
        else:
            assert task["status"] in ("NOT RUN", "SKIPPED"), (family, task["status"])
            if task["status"] == "SKIPPED":
                assert task["skip_reason"].startswith("no run due"), family
    assert set(report["pipelines"]) == {task["pipeline"] for task in report["tasks"]}
    return report


def expected_cell(statuses: list[str]) -> str:
    """The status page's class of a stage cell, from its tasks' statuses."""
    found = set(statuses)
    if not found:
        return "missing"  # the pipeline has no such stage
    if "FAILED" in found:
        return "failed"
    if "NOT RUN" in found:
        return "pending"
    if found == {"SKIPPED"}:
        return "skipped"
    return "ok"


class _RowParser(HTMLParser):
    """The grid's cells (class and text) of one date's row."""

    def __init__(self, date: str) -> None:
        super().__init__()
        self.date, self.rows, self._cell, self._in_body = date, [], None, False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td":
            self._cell = [(attributes.get("class") or "-").split()[0], ""]
            self.rows[-1].append(self._cell)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[1] += data


def page_row(page: str, date: str) -> list[list[str]]:
    parser = _RowParser(date)
    parser.feed(page)
    rows = [row for row in parser.rows if row and row[0][1] == date]
    assert len(rows) == 1, f"{date} has {len(rows)} rows on the status page"
    return rows[0]


def assert_page_matches_disk(output: Path, date: str) -> str:
    """The status page's row of ``date``: one cell per pipeline x stage whose colour is what the
    files say, each failed task's error in the cell's visible text; the failed date's rerun
    command on the page. Returns the page."""
    report = report_of(output, date)
    disk = on_disk(output, date)
    page = (output / "reports" / "index.html").read_text(encoding="utf-8")
    cells = page_row(page, date)[1:]
    position = 0
    for pipeline in report["pipelines"]:
        for stage in SEED_STAGES:
            families = [
                t["task_family"] for t in report["tasks"]
                if t["pipeline"] == pipeline and t["stage"] == stage
            ]
            statuses = [disk[f].status if f in disk else "NOT RUN" for f in families]
            css, text = cells[position]
            position += 1
            assert css == expected_cell(statuses), (pipeline, stage, css, statuses)
            for family in families:
                if family in disk and disk[family].error:
                    assert disk[family].error[:40] in text, (family, text)
    if any(item.status == "FAILED" for item in disk.values()):
        assert report["rerun_command"] and report["rerun_command"] in _unescape(page)
    return page


def _unescape(page: str) -> str:
    import html

    return html.unescape(page)
