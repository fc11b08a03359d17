"""The language partitions of the live snapshot cover every stream language exactly once."""

from __future__ import annotations

from etl_sandbox.twitch_text import LANGUAGE_CODES
from etl_tasks.twitch.languages import MAX_VALUES_PER_FILTER, STREAM_LANGUAGES, language_partitions


def test_every_language_is_in_exactly_one_partition_of_at_most_100():
    partitions = language_partitions()
    flat = [code for group in partitions for code in group]

    assert sorted(flat) == sorted(STREAM_LANGUAGES) and len(flat) == len(set(flat))
    assert all(1 <= len(group) <= MAX_VALUES_PER_FILTER for group in partitions)
    assert len(STREAM_LANGUAGES) == 184 + 2  # ISO 639-1, asl, other
    assert set(LANGUAGE_CODES) <= set(flat)  # whatever the sandbox's streams speak
    assert partitions == language_partitions()  # deterministic
