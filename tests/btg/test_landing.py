"""Raw landing files are never overwritten; ``--baixar-novamente`` names only reports it runs.

Run: .venv/bin/pytest tests/btg/test_landing.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_tasks.btg.landing import PREVIOUS_DIR, current_files, land_files, previous_attempts
from etl_tasks.btg.refetch import RefetchUsageError, refetch_tipos


def test_identical_rerun_changes_nothing_and_a_new_attempt_keeps_the_old_one(tmp_path: Path
                                                                            ) -> None:
    day = tmp_path / "2025-04-10"
    assert land_files(day, {"page-1.json": b"one", "page-2.json": b"two"}) is None
    assert land_files(day, {"page-1.json": b"one", "page-2.json": b"two"}) is None
    assert not (day / PREVIOUS_DIR).exists()
    kept = land_files(day, {"page-1.json": b"fixed"})  # fewer pages, other bytes
    assert kept is not None and kept.parent == day / PREVIOUS_DIR
    assert sorted(p.name for p in current_files(day)) == ["page-1.json"]
    assert (day / "page-1.json").read_bytes() == b"fixed"
    assert (kept / "page-1.json").read_bytes() == b"one"
    assert (kept / "page-2.json").read_bytes() == b"two"
    land_files(day, {"page-1.json": b"third"})
    attempts = previous_attempts(day)
    assert len(attempts) == 2 and (attempts[-1] / "page-1.json").read_bytes() == b"fixed"


def test_refetch_must_name_a_report_the_run_processes() -> None:
    assert refetch_tipos("ambos", ["carteira", "rentabilidade"]) == ["carteira", "rentabilidade"]
    assert refetch_tipos("carteira", ["carteira", "rentabilidade"]) == ["carteira"]
    with pytest.raises(RefetchUsageError, match="this run processes only rentabilidade"):
        refetch_tipos("carteira", ["rentabilidade"])
