"""The Twitch pipeline's declaration for the registry (``etl_tasks.pipelines``).

    etl-run --date 2025-04-10 --pipeline twitch

Helix users, games, streams, videos and clips, every calendar day; streams are a live snapshot, so
a past date can never be captured again (the run records it as skipped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from etl_tasks.pipelines import EnvKey, Pipeline, Probe, RunOption


def _api_probe() -> str:
    from etl_tasks import config
    from etl_tasks.twitch.client import TwitchClient

    # The [http] retry policy, as the BTG probe and every task use (tests make it fast).
    with TwitchClient.from_env(read_only_token=True) as client:
        client.validate_token()
        return f"token issued by {config.env('TWITCH_AUTH_BASE_URL')}"


def probes() -> list[Probe]:
    """Set-up checks that call the Twitch API."""
    return [
        Probe(
            "Twitch API",
            "check TWITCH_CLIENT_ID/SECRET and TWITCH_*_BASE_URL in .env",
            _api_probe,
        )
    ]


def plan(date: dt.date, options: Mapping[str, Any]) -> str:
    """The request plan of a run of ``date`` and its time at the app's bucket; calls nothing."""
    from etl_tasks.twitch.plan import render_plan, request_plan

    return render_plan(date, request_plan(date, options.get("lookback")))


def _lookback_problem(days: int) -> str | None:
    return None if days >= 0 else "--lookback must be 0 or more days"


LOOKBACK = RunOption(
    flag="--lookback",
    key="lookback",
    type=int,
    metavar="N",
    help="re-pull Twitch videos/clips of the N previous days too (default [twitch] lookback)",
    check=_lookback_problem,
)


def rerun(date: dt.date) -> list[str]:
    """The command that resumes one date of Twitch alone."""
    return ["etl-run", "--date", date.isoformat(), "--pipeline", "twitch"]


PIPELINE = Pipeline(
    name="twitch",
    title="Twitch Helix",
    tasks_module="etl_tasks.twitch.tasks",
    env_keys=(
        EnvKey("TWITCH_CLIENT_ID", None, "Twitch application client id (dev.twitch.tv/console)",
               required=True),
        EnvKey("TWITCH_CLIENT_SECRET", None, "Twitch application client secret", required=True),
        EnvKey("TWITCH_AUTH_BASE_URL", "https://id.twitch.tv", "Twitch OAuth host"),
        EnvKey("TWITCH_API_BASE_URL", "https://api.twitch.tv/helix", "Twitch Helix base URL"),
        EnvKey("TWITCH_WAREHOUSE_URL", None, "warehouse for twitch (defaults to WAREHOUSE_URL)"),
    ),
    probes=probes,
    calendar="every day",
    no_run_reason=lambda date: None,
    live_snapshots=("streams",),
    rerun=rerun,
    run_by_default=True,
    run_options=(LOOKBACK,),
    plan=plan,
)
