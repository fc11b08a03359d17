"""The ``[twitch]`` luigi.cfg section: what the Twitch extract asks for and how hard it pushes.

Secrets and endpoints (``TWITCH_CLIENT_ID``, ``TWITCH_CLIENT_SECRET``, ``TWITCH_*_BASE_URL``)
come from the environment (:mod:`etl_tasks.config`), never from here. Plain ``luigi`` sets any of
these on the command line as ``--twitch-<name>`` (e.g. ``--twitch-lookback 3``).
"""

from __future__ import annotations

import luigi

from etl_tasks.config_section import Section


class twitch(Section):
    """[twitch]: what the Twitch extract asks for."""

    # Helix takes `first` from 1 to 100 (A6).
    bounds = {"page_size": (1, 100), "concurrency": (1, 64), "points_per_minute": (1, None)}

    page_size = luigi.IntParameter(
        default=100, description="`first` for paginated endpoints (1-100)"
    )
    top_games = luigi.IntParameter(
        default=100, description="top games added to the games dimension"
    )
    max_stream_pages = luigi.IntParameter(
        default=0, description="cap on /streams pages per snapshot (0 = all live streams)"
    )
    ratelimit_reserve = luigi.IntParameter(
        default=10, description="Ratelimit-Remaining at which the client waits for the reset"
    )
    shared_ratelimit = luigi.BoolParameter(
        default=True,
        description="share the Helix budget between processes on this host via <output>/ratelimit/",
    )
    broadcaster_ids = luigi.ListParameter(
        default=[], description="broadcasters whose videos/clips are extracted even when offline"
    )
    top_broadcasters = luigi.IntParameter(
        default=2000,
        description="videos/clips for the N live broadcasters with most viewers (0 = every one)",
    )
    clip_top_games = luigi.IntParameter(
        default=0, description="also list the date's clips of the N most-watched games (0 = off)"
    )
    stream_partitions = luigi.Parameter(
        default="languages",
        description="walk /streams as concurrent language partitions ('languages') or one ('none')",
    )
    concurrency = luigi.IntParameter(
        default=8, description="Helix requests in flight at once (the shared limiter still paces)"
    )
    points_per_minute = luigi.IntParameter(
        default=800, description="the app's Helix bucket, for the request plan's time estimate"
    )
    expected_live_streams = luigi.IntParameter(
        default=100000, description="plan estimate of live streams before any snapshot exists"
    )
    lookback = luigi.IntParameter(
        default=0, description="re-pull the videos/clips of the previous N days in the same run"
    )
