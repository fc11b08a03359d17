"""The Twitch request plan of a date: the calls each extract will make and the time they take.

    etl-run --date 2025-04-10 --plan            # print it, call nothing
    etl-run --date 2025-04-10 --plan --lookback 3

Before the streams snapshot exists the plan is an estimate (live streams from the latest earlier
snapshot on disk, else ``[twitch] expected_live_streams``); once it exists the calls by id and the
scope are exact (one call per 100 ids, one walk per broadcaster of the scope, which takes one
request unless a broadcaster has a page or more of videos or clips on the date); a finished extract
shows the requests it made, from its sidecar. Time is calls / ``[twitch] points_per_minute``: every
Helix call costs one point (api-contract.md A4), and the extract is bound by the bucket.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from etl_tasks.core.sidecar import Sidecar, read_sidecar
from etl_tasks.twitch.extract import (
    TwitchExtractClips,
    TwitchExtractGames,
    TwitchExtractStreams,
    TwitchExtractUsers,
    TwitchExtractVideos,
    broadcaster_scope,
    distinct_values,
)
from etl_tasks.twitch.languages import language_partitions
from etl_tasks.twitch.settings import twitch as twitch_config
from etl_tasks.twitch.tasks import lookback_dates

IDS_PER_CALL = 100


@dataclass(frozen=True)
class PlannedStage:
    """The calls of one extract of one date."""

    date: dt.date
    entity: str
    calls: int
    kind: str  # "done" (from the sidecar), "exact", "at least" or "estimate"
    basis: str


def _done(task: object) -> Sidecar | None:
    """The sidecar of a finished extract, else None."""
    if not task.complete():  # type: ignore[attr-defined]
        return None
    return task.output().meta()  # type: ignore[attr-defined]


def _requests_of(meta: Sidecar) -> int:
    """Helix requests an extract made (token and validation calls cost no points)."""
    by_endpoint = meta.extra.get("requests_by_endpoint")
    if isinstance(by_endpoint, dict):
        return sum(int(n) for path, n in by_endpoint.items() if not path.startswith("/oauth2/"))
    return int(meta.http.get("requests", 0))


def stream_pages(rows: int, page_size: int) -> int:
    """Requests of a snapshot walk of ``rows`` streams: full pages, plus one last (short or
    empty) page per walk, and a walk per language partition when they are walked at once."""
    partitioned = str(twitch_config().stream_partitions).strip().lower() == "languages"
    walks = len(language_partitions()) if partitioned else 1
    return rows // page_size + walks


def latest_snapshot_rows(streams_root: Path, before: dt.date) -> tuple[dt.date, int] | None:
    """Rows of the latest streams snapshot on disk before ``before`` (the estimate's basis)."""
    found: tuple[dt.date, int] | None = None
    for directory in streams_root.glob("date=*"):
        try:
            day = dt.date.fromisoformat(directory.name.removeprefix("date="))
            sidecar = read_sidecar(directory)
        except (ValueError, OSError):
            continue
        rows = sidecar.rows if sidecar is not None else 0
        if day < before and rows > 0 and (found is None or day > found[0]):
            found = (day, rows)
    return found


def plan_date(date: dt.date, refresh_on: dt.date | None = None) -> list[PlannedStage]:
    """The extracts of one date (with ``refresh_on``: only its videos and clips, as re-pulled by
    the lookback of a run of ``refresh_on``)."""
    refresh = refresh_on is not None
    settings = twitch_config()
    page = int(settings.page_size)
    top = int(settings.top_broadcasters)
    configured = [str(b) for b in settings.broadcaster_ids]
    streams = TwitchExtractStreams(date=date)
    stages: list[PlannedStage] = []
    snapshot = _done(streams)
    if snapshot is not None:
        path = streams.output().data_path
        live = distinct_values(path, "user_id")
        scope = broadcaster_scope(path, top, configured)
        users = len(set(live) | set(configured))
        games = len(distinct_values(path, "game_id"))
        known, kind = "exact", "exact"
        if not refresh:
            stages.append(PlannedStage(date, "streams", _requests_of(snapshot), "done",
                                       f"{snapshot.rows:,} rows captured"))
    else:
        previous = latest_snapshot_rows(streams.output().directory.parent, date)
        rows = previous[1] if previous else int(settings.expected_live_streams)
        source = (f"as on {previous[0]}" if previous
                  else "[twitch] expected_live_streams")
        cap = int(settings.max_stream_pages) or None
        pages = stream_pages(rows, page) if cap is None else min(cap, stream_pages(rows, page))
        live_count = rows if cap is None else min(rows, cap * page)
        users = live_count + len(configured)
        games = min(live_count, 2000)
        scope_size = (live_count if top <= 0 else min(top, live_count)) + len(configured)
        known, kind = f"{live_count:,} live streams {source}", "estimate"
        if not refresh:
            stages.append(PlannedStage(date, "streams", pages, "estimate",
                                       f"{rows:,} live streams {source}, {page} per page"))
    if not refresh:
        stages.append(_by_ids(TwitchExtractUsers(date=date), users, kind, known))
        top_games = int(settings.top_games)
        top_calls = math.ceil(top_games / page) if top_games > 0 else 0
        stages.append(_by_ids(TwitchExtractGames(date=date), games, kind, known, top_calls))
    scope_size = len(scope.broadcasters) if snapshot is not None else scope_size
    scope_note = scope.note() if snapshot is not None else f"scope of about {scope_size:,}"
    videos = TwitchExtractVideos(date=date, refresh_on=refresh_on)
    clips = TwitchExtractClips(date=date, refresh_on=refresh_on)
    for task, entity in ((videos, "videos"), (clips, "clips")):
        meta = task.output().meta() if task.complete() else None
        if meta is not None:
            stages.append(PlannedStage(date, entity, _requests_of(meta), "done",
                                       "; ".join(meta.notes[:1])))
            continue
        calls = scope_size
        basis = f"{scope_note}: one walk each (1 request, more past a page on the date)"
        if entity == "clips" and int(settings.clip_top_games) > 0 and not refresh:
            calls += int(settings.clip_top_games)
            basis += f" + {int(settings.clip_top_games)} top games"
        stages.append(PlannedStage(date, entity, calls, "at least" if kind == "exact"
                                   else "estimate", basis))
    return stages


def _by_ids(task: object, ids: int, kind: str, known: str, more: int = 0) -> PlannedStage:
    entity = task.entity  # type: ignore[attr-defined]
    meta = _done(task)
    if meta is not None:
        date = task.date  # type: ignore[attr-defined]
        return PlannedStage(date, entity, _requests_of(meta), "done", f"{meta.rows:,} rows")
    calls = math.ceil(ids / IDS_PER_CALL) + more
    extra = f" + {more} top-games pages" if more else ""
    return PlannedStage(task.date, entity, calls, kind,  # type: ignore[attr-defined]
                        f"{ids:,} ids / {IDS_PER_CALL} per call{extra} ({known})")


def request_plan(date: dt.date, lookback: int | None = None) -> list[PlannedStage]:
    """Every extract of a run of ``date``: the date's own, then the lookback re-pulls."""
    stages = plan_date(date)
    for day in lookback_dates(date, lookback):
        stages += plan_date(day, refresh_on=date)
    return stages


def render_plan(date: dt.date, stages: list[PlannedStage]) -> str:
    """The plan as text: one line per extract, then the total and its time at the bucket."""
    per_minute = max(1, int(twitch_config().points_per_minute))
    lines = [f"Twitch request plan for {date} (bucket {per_minute} points/min)"]
    lines.append(f"  {'date':<10}  {'extract':<8} {'calls':>9}  {'':<9}  {'minutes':>7}  basis")
    for stage in stages:
        minutes = 0.0 if stage.kind == "done" else stage.calls / per_minute
        lines.append(
            f"  {stage.date.isoformat():<10}  {stage.entity:<8} {stage.calls:>9,}  "
            f"{stage.kind:<9}  {minutes:>7.1f}  {stage.basis}"
        )
    pending = sum(stage.calls for stage in stages if stage.kind != "done")
    made = sum(stage.calls for stage in stages if stage.kind == "done")
    lines.append(
        f"  still to call: {pending:,} requests = {pending / per_minute:.1f} min at the bucket"
        + (f"; already made: {made:,}" if made else "")
    )
    return "\n".join(lines) + "\n"
