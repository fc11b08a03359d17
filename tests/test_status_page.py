"""The static status page: grid, escaping, links, chart, and a real render in headless Chromium.

Reports are written with the real ``write_report`` into an isolated output directory. Chromium
(Debian's ``chromium``) renders the page from ``file://``: ``--dump-dom`` proves the grid and the
SVG chart are in the live DOM, the console log proves no error or blocked load, ``--screenshot``
saves a PNG (also copied to ``<workdir>/output/status.png`` for a human look). Without Chromium
the browser tests skip on a developer machine and fail under ``CI=true``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from etl_tasks.report import write_report
from etl_tasks.status_page import build_status_page
from tests.report_samples import Stage, sample_report

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HOSTILE_ERROR = "ValueError: bad <script>alert(\"x\")</script> & 'quoted' > end"
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
]


@dataclass
class Cell:
    """One ``<td>`` of the grid."""

    css: str
    title: str
    text: str = ""


@dataclass
class Row:
    """One ``<tr>`` of the grid body."""

    css: str
    cells: list[Cell] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class GridParser(HTMLParser):
    """Collects the rows of ``<table id="grid">``'s body, with cell classes, titles and links."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self._in_body = False
        self._cell: Cell | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append(Row(attributes.get("class", "")))
        elif self._in_body and tag == "td":
            self._cell = Cell(attributes.get("class", "").strip(), attributes.get("title", ""))
            self.rows[-1].cells.append(self._cell)
        elif self._in_body and tag == "a":
            self.rows[-1].links.append(attributes["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.text += data


def parse_grid(page: str) -> list[Row]:
    parser = GridParser()
    parser.feed(page)
    return parser.rows


def write_sample_reports(output: Path) -> None:
    """Five dates covering every status, plus one date whose report.json is corrupt."""
    reports = [
        sample_report("2025-04-07", {"twitch": {}, "btg": {}}),
        sample_report("2025-04-08", {"twitch": {}, "btg": {s: Stage("SKIPPED") for s in
                                                          ("extract", "transform", "load")}}),
        sample_report("2025-04-09", {
            "twitch": {"load": Stage("FAILED", error=HOSTILE_ERROR)},
            "btg": {"extract": Stage(rows=5000)},
        }),
        sample_report("2025-04-10", {"twitch": {"load": Stage("NOT RUN")}, "btg": {}}),
        sample_report("2025-04-11", {"twitch": {"extract": Stage(rows=12345, duration_s=75.0)}}),
    ]
    for report in reports:
        write_report(report)
    broken = output / "reports" / "date=2025-04-12"
    broken.mkdir(parents=True)
    (broken / "report.json").write_text("{ not json", encoding="utf-8")


def test_grid_rows_cells_escaping_and_links(workdir: Path) -> None:
    output = workdir / "output"
    write_sample_reports(output)
    index = build_status_page(output)
    assert index == output / "reports" / "index.html"
    page = index.read_text(encoding="utf-8")

    rows = parse_grid(page)
    dates = [row.cells[0].text for row in rows]
    assert dates == ["2025-04-12", "2025-04-11", "2025-04-10", "2025-04-09", "2025-04-08",
                     "2025-04-07"]
    # date + 2 pipelines x 3 stages + overall + links
    assert all(len(row.cells) == 1 + 6 + 1 + 1 for row in rows)
    by_date = {row.cells[0].text: row for row in rows}

    def classes(date: str) -> list[str]:
        return [cell.css.split()[0] for cell in by_date[date].cells[1:8]]

    assert classes("2025-04-07") == ["ok"] * 7
    assert classes("2025-04-08") == ["ok"] * 3 + ["skipped"] * 3 + ["ok"]
    assert classes("2025-04-09") == ["ok", "ok", "failed", "ok", "ok", "ok", "failed"]
    assert classes("2025-04-10") == ["ok", "ok", "pending", "ok", "ok", "ok", "pending"]
    assert classes("2025-04-11") == ["ok"] * 3 + ["missing"] * 3 + ["ok"]
    assert classes("2025-04-12") == ["missing"] * 7
    assert "unreadable report.json" in by_date["2025-04-12"].cells[7].title

    failed_load = by_date["2025-04-09"].cells[3]
    assert HOSTILE_ERROR in failed_load.title  # the parser unescapes: the text survives intact
    assert HOSTILE_ERROR in by_date["2025-04-09"].cells[7].title
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)" in page
    assert "&#x27;quoted&#x27; &gt; end" in page

    assert "12,345 rows" in by_date["2025-04-11"].cells[1].text
    assert "1m15s" in by_date["2025-04-11"].cells[1].text
    assert "5,000 rows" in by_date["2025-04-09"].cells[4].text
    assert by_date["2025-04-09"].css == "row-failed"

    for row in rows[1:]:
        assert row.links == [f"date={row.cells[0].text}/report.txt",
                             f"date={row.cells[0].text}/report.json"]
        for link in row.links:
            assert (index.parent / link).is_file(), link

    # Self-contained: no URL of any kind, no script, nothing left behind by the atomic write.
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert sorted(p.name for p in index.parent.iterdir() if p.is_file()) == ["index.html"]


def test_chart_has_one_bar_per_pipeline_and_day(workdir: Path) -> None:
    output = workdir / "output"
    write_sample_reports(output)
    page = build_status_page(output).read_text(encoding="utf-8")
    chart = page[page.index('<svg id="records-chart"'):page.index("</svg>")]
    bars = re.findall(r"<title>(\d{4}-\d\d-\d\d) (\w+): ([\d,]+) records</title>", chart)
    # Skipped, failed and not-run stages carry 0 rows; every pipeline with records gets a bar.
    expected = {
        ("2025-04-07", "twitch", "300"), ("2025-04-07", "btg", "300"),
        ("2025-04-08", "twitch", "300"),
        ("2025-04-09", "twitch", "200"), ("2025-04-09", "btg", "5,200"),
        ("2025-04-10", "twitch", "200"), ("2025-04-10", "btg", "300"),
        ("2025-04-11", "twitch", "12,545"),
    }
    assert set(bars) == expected and len(bars) == len(expected)
    # Oldest on the left: x of the first labelled date is smaller than that of the last.
    labels = re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="middle">([\d-]+)</text>', chart)
    assert labels[0][1] == "2025-04-07" and labels[-1][1] == "2025-04-12"
    assert float(labels[0][0]) < float(labels[-1][0])


def test_hundreds_of_dates_and_the_command_line(workdir: Path) -> None:
    output = workdir / "output"
    reports_root = output / "reports"
    first = dt.date(2024, 3, 1)
    for day in range(400):
        date = (first + dt.timedelta(days=day)).isoformat()
        report = sample_report(date, {"twitch": {}, "btg": {}})
        # report.json alone (no fsync per file) keeps 400 dates fast; the page reads only that.
        directory = reports_root / f"date={date}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "report.json").write_text(json.dumps(report.to_json()), encoding="utf-8")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "etl_tasks.status_page", "--output", str(output)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    index = Path(result.stdout.strip())
    assert index == reports_root / "index.html"
    rows = parse_grid(index.read_text(encoding="utf-8"))
    dates = [row.cells[0].text for row in rows]
    assert len(dates) == 400 and dates[0] == "2025-04-04" and dates[-1] == "2024-03-01"
    assert dates == sorted(dates, reverse=True)
    print(f"status page of 400 dates: {elapsed:.1f} s")


# --- the real browser ---------------------------------------------------------------------


def chromium_binary() -> str:
    """Path of Chromium, or skip (fail under CI) when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "Chromium is not installed (Debian: apt-get install -y chromium)"
    if IN_CI:
        pytest.fail(message + " (CI=true: the browser test must not skip)")
    pytest.skip(message)


def run_browser(page: Path, profile: Path, *extra: str) -> tuple[str, list[str]]:
    """Load ``page`` headless; return stdout and the console lines the page produced."""
    result = subprocess.run(
        [chromium_binary(), *BROWSER_FLAGS, f"--user-data-dir={profile}", *extra,
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


def test_console_capture_sees_errors(workdir: Path) -> None:
    """Control: a page with a script error and a blocked load does show up in the console lines,
    so an empty list for the status page means something."""
    bad = workdir / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
        "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
        '<img src="http://127.0.0.1:9/x.png"><script>missingFunction();</script></body></html>',
        encoding="utf-8",
    )
    _, console = run_browser(bad, workdir / "profile-bad", "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console), console
    assert any("Content Security Policy" in line for line in console), console


def test_renders_in_headless_chromium(workdir: Path) -> None:
    output = workdir / "output"
    write_sample_reports(output)
    index = build_status_page(output)

    dom, console = run_browser(index, workdir / "profile-dom", "--dump-dom")
    assert console == []
    rows = parse_grid(dom)
    assert [row.cells[0].text for row in rows][:2] == ["2025-04-12", "2025-04-11"]
    assert len(rows) == 6
    assert sum(cell.css.startswith("failed") for row in rows for cell in row.cells) == 2
    assert dom.count('<rect class="bar"') == 8
    assert "&lt;script&gt;" in dom and "<script>alert" not in dom

    screenshot = workdir / "status.png"
    _, console = run_browser(index, workdir / "profile-shot", f"--screenshot={screenshot}",
                             "--window-size=1280,900", "--hide-scrollbars")
    assert console == []
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 10_000, f"screenshot is only {len(png)} bytes: probably blank"
    shutil.copyfile(screenshot, output / "status.png")


def test_task_notes_and_the_rerun_command_are_shown(workdir: Path) -> None:
    """A stage's ``extra["notes"]`` appear under its task in report.txt, report.json and the
    page; a failed date names its error and its rerun command in the page's visible text."""
    from etl_tasks.report import render_text

    report = sample_report("2025-04-09", {
        "twitch": {"load": Stage("FAILED", error="LoadError: cannot connect")},
        "btg": {},
    })
    note = "3 values rounded to the column scale (rates)"
    report.tasks[0].notes = [note]
    write_report(report)
    text = render_text(report)
    assert f"      · {note}" in text
    assert text.index(note) > text.index(report.tasks[0].task_family)
    document = json.loads((workdir / "output/reports/date=2025-04-09/report.json").read_text())
    assert document["tasks"][0]["notes"] == [note]
    assert document["rerun_command"].endswith("etl-run --date 2025-04-09 --pipeline twitch")
    page = (workdir / "output/reports/index.html").read_text(encoding="utf-8")
    grid = page[page.index('<table id="grid">'):]
    assert note in grid
    attention = page[page.index('id="attention"'):page.index('<table id="grid">')]
    assert "LoadError: cannot connect" in attention
    assert html.escape(document["rerun_command"]) in attention
