"""The scope of a Twitch date: which live broadcasters (and games) the per-broadcaster calls cover.

A real day has ~100,000 live broadcasters and the app's bucket 800 points a minute, so videos and
clips are fetched for the ``[twitch] top_broadcasters`` live broadcasters with most viewers plus
the configured ``broadcaster_ids``; the snapshot itself ranks them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq


def distinct_values(parquet_path: Path, column: str) -> list[str]:
    """Distinct non-empty values of one column of a Parquet file, sorted (deterministic calls)."""
    values = pq.read_table(parquet_path, columns=[column])[column]
    return sorted(v for v in pc.unique(values.drop_null()).to_pylist() if v)


def ranked(snapshot_path: Path, key: str) -> list[tuple[str, int]]:
    """``(value of key, viewers)`` of a streams snapshot, most viewers first, then by value.

    A broadcaster seen on several pages counts with its highest viewer count; a game with the sum
    over its streams (each stream once)."""
    table = pq.read_table(snapshot_path, columns=["id", key, "viewer_count"])
    if table.num_rows == 0:
        return []
    per_stream = table.group_by(["id", key]).aggregate([("viewer_count", "max")])
    how = "max" if key == "user_id" else "sum"
    totals = per_stream.group_by(key).aggregate([("viewer_count_max", how)])
    pairs = zip(totals[key].to_pylist(), totals[f"viewer_count_max_{how}"].to_pylist(),
                strict=True)
    return sorted(((k, int(v)) for k, v in pairs if k), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class Scope:
    """Which broadcasters a date's videos/clips are fetched for, and why."""

    broadcasters: list[str]  # request order: top live broadcasters by viewers, then configured
    live: int  # live broadcasters in the snapshot
    top: int  # [twitch] top_broadcasters (0 = all)
    configured: list[str]  # configured ids not already among the top

    def note(self) -> str:
        """``scope: top 2,000 of 98,765 live broadcasters by viewers + 2 configured ids``."""
        taken = len(self.broadcasters) - len(self.configured)
        head = (f"all {self.live:,} live broadcasters" if taken == self.live
                else f"top {taken:,} of {self.live:,} live broadcasters by viewers")
        return f"scope: {head} + {len(self.configured)} configured ids"

    def as_dict(self) -> dict[str, Any]:
        return {"broadcasters": len(self.broadcasters), "live": self.live,
                "top_broadcasters": self.top, "configured_added": self.configured}


def broadcaster_scope(snapshot_path: Path, top: int, configured: Iterable[str]) -> Scope:
    """The scope of a date from its streams snapshot and the settings."""
    live = [user for user, _ in ranked(snapshot_path, "user_id")]
    chosen = live if top <= 0 else live[:top]
    taken = set(chosen)
    extra = sorted({str(b) for b in configured} - taken)
    return Scope(chosen + extra, len(live), top, extra)
