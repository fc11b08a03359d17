"""Static status page of the state of every date: ``output/reports/index.html``.

    python -m etl_tasks.status_page                 # [paths] output_dir from luigi.cfg
    python -m etl_tasks.status_page --output /srv/etl/output

Reads every ``reports/date=YYYY-MM-DD/report.json`` (the state of the date, rewritten by every
command that changes it) and writes one self-contained HTML file (inline CSS and SVG, no script, no
external URL — a Content-Security-Policy forbids loading anything):

* "Needs attention": every date with a failed or half-done pipeline, each failed task with its
  error message in plain text, and the exact command that resumes the date;
* a grid, newest date first, of every registered pipeline's extract / transform / load and the
  overall status, coloured by status (green success, grey skipped, red failed, amber not run /
  incomplete, white when the date has no report for that pipeline); each cell lists its tasks
  (entity, rows, duration, notes) and shows a failure's message, the overall cell the wall-clock
  of the last run that changed the date;
* a bar chart of the records processed per day, one colour per pipeline (oldest date on the left);
* relative links to each day's ``report.txt``, ``report.json`` and the log of its last run.

The file is written atomically, so a browser or web server never sees half a page. Rebuilding it is
cheap (hundreds of dates in well under a second), so every report write rebuilds it.

Exit codes: 0 page written (its path is printed); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from etl_tasks import config
from etl_tasks import pipelines as registry
from etl_tasks.cli.parsers import document
from etl_tasks.core.targets import atomic_write_bytes

logger = logging.getLogger(__name__)

STAGES = ("extract", "transform", "load")
# Stages outside the seed's three are shown in the column they belong to.
STAGE_COLUMN = {"check": "transform", "schema": "load"}
ERROR_CHARS = 160  # in a grid cell; the attention list above the grid shows the whole message
INDEX_NAME = "index.html"
NO_REPORT = "no report.json"
# Status → CSS class. "missing" = the pipeline did not run that day (or no readable report).
STATUS_CLASSES = {
    "SUCCESS": "ok",
    "SKIPPED": "skipped",
    "FAILED": "failed",
    "NOT RUN": "pending",
    "INCOMPLETE": "pending",
}
PIPELINE_COLOURS = ("#2f6fb5", "#d9822b", "#7a4fb5", "#2a9d8f", "#b5432f")
CHART_WIDTH, CHART_HEIGHT = 1200, 240
CHART_LEFT, CHART_BOTTOM, CHART_TOP = 64, 28, 12
LABEL_HALF_WIDTH = 34  # half the width of a YYYY-MM-DD label at 11px
# Nothing may load from anywhere: the page must work offline and leak no request.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#1d2329;
 background:#fafbfc}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 6px}
.meta{color:#57606a;font-size:13px;margin-bottom:8px}
.counts span{display:inline-block;margin-right:12px}
.legend span{display:inline-block;padding:2px 8px;margin:0 6px 4px 0;border:1px solid #d0d7de;
 border-radius:3px;font-size:12px}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:center;white-space:nowrap}
th{background:#eef1f4;position:sticky;top:0}
td.date{font-weight:600;text-align:left}
td .st{display:block;font-size:10px;font-weight:700;letter-spacing:.03em}
td .dur{color:#3c4650;font-size:11px}
td .tasks{font-size:10px;color:#3c4650;text-align:left;margin-top:2px}
td .err,.attention .err{color:#8b1a10;font-size:11px;white-space:normal;text-align:left}
td .err{max-width:260px}.attention .err{font-size:13px}
.attention{border:1px solid #e0a39d;background:#fdf0ef;padding:6px 10px;margin:6px 0 10px}
.attention li{margin:3px 0}.attention code{background:#fff;border:1px solid #d0d7de;padding:1px 4px;
 font-size:12px;white-space:pre-wrap;word-break:break-all}
.ok{background:#c8ecd0}.skipped{background:#dde0e3}.failed{background:#f6c1bd}
.pending{background:#fbe2a8}.missing{background:#ffffff;color:#8c959f}
.filter{margin:6px 0;font-size:13px}
#only-problems:checked~table tr.row-ok,#only-problems:checked~table tr.row-skipped{display:none}
svg text{font-size:11px;fill:#3c4650}
a{color:#0b5cad}
"""


@dataclass
class DayReport:
    """One date's report.json (``document`` is None when the file could not be read)."""

    date: str
    directory: Path
    document: dict[str, Any] | None
    problem: str | None = None


def load_reports(reports_root: Path) -> list[DayReport]:
    """Every ``date=YYYY-MM-DD`` directory under ``reports_root``, newest first."""
    days: list[DayReport] = []
    for directory in reports_root.glob("date=*"):
        day = directory.name.removeprefix("date=")
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            continue  # not one of ours (e.g. a hand-made folder): leave it out of the grid
        path = directory / "report.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            days.append(DayReport(day, directory, document))
        except FileNotFoundError:
            days.append(DayReport(day, directory, None, NO_REPORT))
        except (OSError, ValueError) as error:
            days.append(DayReport(day, directory, None, f"unreadable report.json: {error}"))
    return sorted(days, key=lambda d: d.date, reverse=True)


def pipeline_columns(days: Sequence[DayReport]) -> list[str]:
    """The registered pipelines in registry order, then any other pipeline found in a report."""
    known = registry.names()
    found = {p for d in days if d.document for p in d.document.get("pipelines") or []}
    return [*known, *sorted(found - set(known))]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    if seconds >= 60:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{seconds:.2f}s"


def _stage_tasks(document: dict[str, Any], pipeline: str, stage: str) -> list[dict[str, Any]]:
    """The tasks of one pipeline shown in one stage column."""
    return [
        task for task in document.get("tasks") or []
        if task.get("pipeline") == pipeline
        and STAGE_COLUMN.get(str(task.get("stage")), task.get("stage")) == stage
    ]


def _stage_errors(document: dict[str, Any], pipeline: str | None, stage: str | None) -> list[str]:
    errors = []
    for task in document.get("tasks") or []:
        if task.get("status") != "FAILED":
            continue
        if pipeline is not None and task.get("pipeline") != pipeline:
            continue
        column = STAGE_COLUMN.get(str(task.get("stage")), task.get("stage"))
        if stage is not None and column != stage:
            continue
        errors.append(f"{task.get('task_family')}: {task.get('error')}")
    return errors


def _short(text: str, limit: int = ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _task_lines(tasks: Sequence[dict[str, Any]]) -> str:
    """One line per task: entity, status when not a success, rows, seconds, then its notes."""
    lines = []
    for task in tasks:
        status = str(task.get("status"))
        state = "" if status == "SUCCESS" else f" {status}"
        lines.append(
            f"{_e(task.get('entity'))}{_e(state)} {int(task.get('rows') or 0):,} · "
            f"{_e(_duration(float(task.get('duration_s') or 0.0)))}"
        )
        lines += [f"&nbsp;&nbsp;{_e(note)}" for note in task.get("notes") or []]
    return f'<div class="tasks">{"<br>".join(lines)}</div>' if lines else ""


def _cell(status: str | None, records: int, duration_s: float, tooltip: list[str],
          extra_class: str = "", empty_text: str = "-", detail: str = "") -> str:
    """A coloured grid cell; ``status`` None is a white cell showing ``empty_text``;
    ``detail`` is HTML shown under the numbers (tasks, errors)."""
    css = STATUS_CLASSES.get(status or "", "missing")
    if status is None:
        return (f'<td class="missing {extra_class}" title="{_e(chr(10).join(tooltip))}">'
                f"{_e(empty_text)}</td>")
    label = "" if status == "SUCCESS" else f'<span class="st">{_e(status)}</span>'
    return (
        f'<td class="{css} {extra_class}" data-status="{_e(status)}" '
        f'title="{_e(chr(10).join(tooltip))}">{label}{records:,} rows<br>'
        f'<span class="dur">{_e(_duration(duration_s))}</span>{detail}</td>'
    )


def _log_link(day: DayReport, reports_root: Path) -> str:
    """A relative link to the log of the last run that changed the date, when it still exists."""
    log = ((day.document or {}).get("last_run") or {}).get("log")
    if not log or not Path(log).is_file():
        return ""
    relative = os.path.relpath(Path(log).absolute(), reports_root.absolute())
    return f' · <a href="{_e(quote(relative))}">log</a>'


def _row(day: DayReport, pipelines: Sequence[str]) -> str:
    link_base = quote(day.directory.name, safe="=")
    links = (
        f'<a href="{link_base}/report.txt">txt</a> · <a href="{link_base}/report.json">json</a>'
        + _log_link(day, day.directory.parent)
    )
    doc = day.document
    if doc is None:
        note = [day.problem or ""]
        blanks = "".join(_cell(None, 0, 0.0, note) for _ in range(len(pipelines) * len(STAGES)))
        label = "no report" if day.problem == NO_REPORT else "unreadable report"
        overall = _cell(None, 0, 0.0, note, "overall", label)
        return (f'<tr class="row-missing"><td class="date">{_e(day.date)}</td>{blanks}{overall}'
                f"<td>{links}</td></tr>")
    cells = []
    ran = doc.get("pipelines") or []
    for pipeline in pipelines:
        by_stage = (doc.get("by_pipeline") or {}).get(pipeline) or {}
        for stage in STAGES:
            summary = by_stage.get(stage)
            if pipeline not in ran or summary is None:
                cells.append(_cell(None, 0, 0.0, [f"{pipeline} did not run on {day.date}"]))
                continue
            if doc.get("tasks") and not _stage_tasks(doc, pipeline, stage):
                cells.append(_cell(None, 0, 0.0, [f"{pipeline} has no {stage} stage"]))
                continue
            status = str(summary.get("status"))
            errors = _stage_errors(doc, pipeline, stage)
            tooltip = [f"{pipeline} {stage} {day.date}: {status}",
                       f"{summary.get('records', 0):,} rows in {summary.get('duration_s', 0.0)}s",
                       *errors]
            detail = _task_lines(_stage_tasks(doc, pipeline, stage)) + "".join(
                f'<div class="err">{_e(_short(error))}</div>' for error in errors
            )
            cells.append(_cell(status, int(summary.get("records") or 0),
                               float(summary.get("duration_s") or 0.0), tooltip, detail=detail))
    status = str(doc.get("status"))
    tooltip = [f"{day.date}: {status}", *[str(e) for e in doc.get("errors") or []]]
    last_run = doc.get("last_run") or {}
    wall = (
        f'<div class="tasks" title="{_e(last_run.get("command", ""))}">last run: '
        f'{_e(_duration(float(last_run.get("wall_clock_s") or 0.0)))} wall-clock</div>'
        if last_run else ""
    )
    overall = _cell(status, int(doc.get("total_records") or 0),
                    float(doc.get("total_duration_s") or 0.0), tooltip, "overall", detail=wall)
    row_class = f"row-{STATUS_CLASSES.get(status, 'missing')}"
    return (f'<tr class="{row_class}"><td class="date">{_e(day.date)}</td>{"".join(cells)}'
            f"{overall}<td>{links}</td></tr>")


def render_grid(days: Sequence[DayReport], pipelines: Sequence[str]) -> str:
    """The table: one row per date, one column per pipeline stage, then overall and links."""
    top = "".join(f'<th colspan="3">{_e(p)}</th>' for p in pipelines)
    sub = "".join(f"<th>{stage}</th>" for _ in pipelines for stage in STAGES)
    rows = "\n".join(_row(day, pipelines) for day in days)
    return (
        '<table id="grid">\n<thead><tr><th rowspan="2">date</th>'
        f'{top}<th rowspan="2">overall</th><th rowspan="2">report</th></tr>\n'
        f"<tr>{sub}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>"
    )


def _records_by_pipeline(doc: dict[str, Any] | None, pipeline: str) -> int:
    """Records the pipeline processed that day, summed over its stages (as the report's total)."""
    if not doc:
        return 0
    stages = (doc.get("by_pipeline") or {}).get(pipeline) or {}
    return sum(int((stages.get(stage) or {}).get("records") or 0) for stage in STAGES)


def pipeline_colour(index: int) -> str:
    """Bar colour of the ``index``-th pipeline column (the palette repeats past its end)."""
    return PIPELINE_COLOURS[index % len(PIPELINE_COLOURS)]


def _nice_ceiling(value: int) -> int:
    """Smallest 1, 2 or 5 times 10**k at or above ``value`` (a round top for the y axis)."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _date_labels(dates: Sequence[str], slot: float) -> list[tuple[float, str]]:
    """X-axis labels: the oldest, the newest, and evenly spaced dates that do not overlap."""
    gap = 2 * LABEL_HALF_WIDTH + 8

    def centre(i: int) -> float:
        # Clamped so the first and last labels stay inside the drawing.
        middle = CHART_LEFT + (i + 0.5) * slot
        return min(max(middle, CHART_LEFT + LABEL_HALF_WIDTH), CHART_WIDTH - 8 - LABEL_HALF_WIDTH)

    if not dates:
        return []
    chosen: list[int] = []
    for i in range(len(dates) - 1):
        if not chosen or centre(i) - centre(chosen[-1]) >= gap:
            chosen.append(i)
    last = len(dates) - 1
    while chosen and centre(last) - centre(chosen[-1]) < gap:
        chosen.pop()
    return [(centre(i), dates[i]) for i in [*chosen, last]]


def render_chart(days: Sequence[DayReport], pipelines: Sequence[str]) -> str:
    """Inline SVG: stacked bars of records per day and pipeline, oldest date on the left."""
    ordered = sorted(days, key=lambda d: d.date)
    totals = [[_records_by_pipeline(d.document, p) for p in pipelines] for d in ordered]
    top = _nice_ceiling(max((sum(t) for t in totals), default=0))
    plot_w = CHART_WIDTH - CHART_LEFT - 8
    plot_h = CHART_HEIGHT - CHART_BOTTOM - CHART_TOP
    slot = plot_w / max(len(ordered), 1)
    bar_w = max(slot * 0.8, 0.5)
    parts = [
        f'<svg id="records-chart" role="img" width="100%" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" preserveAspectRatio="xMinYMin meet">',
        "<title>Records processed per day and pipeline</title>",
    ]
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = CHART_TOP + plot_h * (1 - fraction)
        parts.append(f'<line x1="{CHART_LEFT}" x2="{CHART_WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#d0d7de" stroke-width="1"/>')
        parts.append(f'<text x="{CHART_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{int(top * fraction):,}</text>")
    for i, (day, values) in enumerate(zip(ordered, totals, strict=True)):
        x = CHART_LEFT + i * slot + (slot - bar_w) / 2
        base = CHART_TOP + plot_h
        for index, (pipeline, value) in enumerate(zip(pipelines, values, strict=True)):
            if value <= 0:
                continue
            height = plot_h * value / top
            base -= height
            parts.append(
                f'<rect class="bar" x="{x:.2f}" y="{base:.2f}" width="{bar_w:.2f}" '
                f'height="{height:.2f}" fill="{pipeline_colour(index)}">'
                f"<title>{_e(day.date)} {_e(pipeline)}: {value:,} records</title></rect>"
            )
    for centre, label in _date_labels([d.date for d in ordered], slot):
        parts.append(f'<text x="{centre:.1f}" y="{CHART_HEIGHT - 8}" '
                     f'text-anchor="middle">{_e(label)}</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<span style="border-left:14px solid {pipeline_colour(i)}">{_e(p)}</span>'
        for i, p in enumerate(pipelines)
    )
    return f'<div class="legend">{legend}</div>\n' + "\n".join(parts)


def render_attention(days: Sequence[DayReport]) -> str:
    """Every date with a failed or half-done pipeline: its errors and the command to resume it."""
    items = []
    for day in days:
        doc = day.document
        if not doc or doc.get("status") not in ("FAILED", "INCOMPLETE"):
            continue
        rerun = doc.get("rerun_command")
        if not rerun and not doc.get("errors"):
            continue  # only pipelines never run: nothing went wrong
        errors = "".join(f'<div class="err">{_e(error)}</div>' for error in doc.get("errors") or [])
        command = f'<div>Rerun: <code>{_e(rerun)}</code></div>' if rerun else ""
        items.append(
            f'<li><b>{_e(day.date)}</b> {_e(doc.get("status"))}{errors}{command}</li>'
        )
    if not items:
        return ""
    return (
        '<div class="attention" id="attention"><b>Needs attention</b><ul>'
        + "".join(items) + "</ul></div>"
    )


def render_page(days: Sequence[DayReport], generated_at: dt.datetime) -> str:
    """The whole HTML document."""
    pipelines = pipeline_columns(days)
    counts: dict[str, int] = {}
    for day in days:
        status = str(day.document.get("status")) if day.document else "missing"
        counts[status] = counts.get(status, 0) + 1
    count_text = "".join(f"<span>{_e(s)}: {n}</span>" for s, n in sorted(counts.items()))
    legend = (
        '<div class="legend"><span class="ok">success</span><span class="skipped">skipped</span>'
        '<span class="failed">failed</span><span class="pending">not run / incomplete</span>'
        '<span class="missing">no report</span></div>'
    )
    span = f"{days[-1].date} → {days[0].date}" if days else "no reports yet"
    generated = generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>etl_tasks status</title>
<style>{CSS}</style>
</head>
<body>
<h1>etl_tasks status</h1>
<div class="meta">{len(days)} dates ({_e(span)}) · generated {_e(generated)}</div>
<div class="meta counts">{count_text}</div>
{render_attention(days)}
<h2>Records processed per day</h2>
{render_chart(days, pipelines)}
<h2>Runs</h2>
{legend}
<input type="checkbox" id="only-problems">
<label class="filter" for="only-problems">only dates with problems</label>
{render_grid(days, pipelines)}
</body>
</html>
"""


def build_status_page(output_root: Path, quiet: bool = False) -> Path:
    """Write ``<output_root>/reports/index.html`` from every report.json; return its path
    (``quiet``: no log line, for interpreter exit, when log streams may be closed)."""
    reports_root = Path(output_root) / "reports"
    days = load_reports(reports_root)
    page = render_page(days, dt.datetime.now(dt.timezone.utc))
    path = reports_root / INDEX_NAME
    atomic_write_bytes(path, page.encode("utf-8"))
    if not quiet:
        logger.debug("status page of %d dates written to %s", len(days), path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: build the page and print its path."""
    parser = argparse.ArgumentParser(
        prog="python -m etl_tasks.status_page", description=__doc__.split("\n\n")[0]
    )
    document(parser, __doc__)
    parser.add_argument("--output", type=Path, default=None,
                        help="output directory holding reports/ (default: [paths] output_dir)")
    args = parser.parse_args(argv)
    print(build_status_page(args.output if args.output is not None else config.output_root()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
