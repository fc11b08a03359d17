"""Hostile carteira archives are refused before they cost memory (issue 12 defect 5).

The archive of the defect — 4 members of 200 MiB of zeros, under 1 MiB compressed — is built by
streaming (never held inflated), then read in a child process whose peak RSS is compared with
the same child reading a small valid archive: the difference must stay small, whatever the
archive claims.

Run: .venv/bin/pytest tests/btg/test_hostile_zip.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from etl_tasks.btg.anbima import ZipLimits, iter_report_files
from etl_tasks.errors import DataQualityError
from tests.btg.orquestrador_run import orquestrador, prepare_project

GOLDEN = (Path(__file__).parent.parent / "fixtures" / "anbima_golden.xml").read_bytes()
MIB = 1024 * 1024
PEAK_RSS = """
import resource, sys
from pathlib import Path
from etl_tasks.btg.anbima import iter_report_files
from etl_tasks.errors import DataQualityError
from tests.btg.orquestrador_run import orquestrador, prepare_project
data = Path(sys.argv[1]).read_bytes()
try:
    for _name, _payload in iter_report_files(data, "Carteira.zip"):
        pass
    outcome = "accepted"
except DataQualityError as error:
    outcome = "refused: " + str(error)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)  # KiB -> MiB
print(outcome)
"""


def zeros_archive(path: Path, members: int, member_bytes: int) -> Path:
    """A ZIP of ``members`` files of zeros, written in 1 MiB chunks (never inflated in memory)."""
    chunk = b"\0" * MIB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(members):
            with archive.open(f"FUNDO_{number}_20250410.xml", "w", force_zip64=True) as member:
                member.write(b"<?xml version='1.0'?>")
                for _ in range(member_bytes // MIB):
                    member.write(chunk)
    return path


def peak_rss_mib(archive: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, str(archive)], capture_output=True,
                          text=True, check=True, timeout=300)
    peak, outcome = done.stdout.strip().split("\n", 1)
    return int(peak), outcome


def test_four_members_of_200_mib_are_refused_with_flat_memory(tmp_path: Path) -> None:
    bomb = zeros_archive(tmp_path / "bomb.zip", 4, 200 * MIB)
    assert bomb.stat().st_size < 2 * MIB
    small = tmp_path / "small.zip"
    with zipfile.ZipFile(small, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ALFA_20250411.xml", GOLDEN)
    baseline, accepted = peak_rss_mib(small)
    peak, refused = peak_rss_mib(bomb)
    assert accepted == "accepted"
    assert refused.startswith("refused: ANBIMA carteira file Carteira.zip: claims 838860")
    assert "inflated bytes (at most 536870912 accepted)" in refused
    print(f"peak RSS: small archive {baseline} MiB, 4 x 200 MiB bomb {peak} MiB")
    assert peak - baseline < 32, (baseline, peak)


def test_member_count_and_ratio_caps(tmp_path: Path) -> None:
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(11):
            archive.writestr(f"F{number}.xml", GOLDEN)
    with pytest.raises(DataQualityError, match=r"has 11 members \(at most 10 accepted\)"):
        list(iter_report_files(many.read_bytes(), "many.zip", ZipLimits(max_members=10)))
    assert len(list(iter_report_files(many.read_bytes(), "many.zip"))) == 11  # defaults: fine
    dense = zeros_archive(tmp_path / "dense.zip", 1, 8 * MIB)
    with pytest.raises(DataQualityError, match=r"inflates \d+ times its compressed size"):
        list(iter_report_files(dense.read_bytes(), "dense.zip"))


def test_total_cap_counts_inflated_bytes_across_members(tmp_path: Path) -> None:
    archive_path = tmp_path / "two.zip"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("A.xml", GOLDEN)
        archive.writestr("B.xml", GOLDEN)
    limits = ZipLimits(max_total_bytes=len(GOLDEN) + 10)
    with pytest.raises(DataQualityError, match="claims"):
        list(iter_report_files(archive_path.read_bytes(), "two.zip", limits))


def test_sandbox_zip_bomb_end_to_end_fails_the_carteira_only_with_flat_memory(
        sandbox, tmp_path: Path) -> None:
    """Over HTTP, as cron runs it: the healthy day's peak RSS vs the 4 x 200 MiB bomb's."""
    healthy_project = prepare_project(tmp_path / "healthy")
    healthy = orquestrador(healthy_project, f"sqlite:///{healthy_project / 'w.db'}",
                           ["--data", "2025-04-10"], measure_rss=True)
    assert healthy.code == 0, healthy.output[-2000:]
    sandbox.control("config", {"btg_zip_bomb_mb": 200})
    bomb_project = prepare_project(tmp_path / "bomb")
    bomb = orquestrador(bomb_project, f"sqlite:///{bomb_project / 'w.db'}",
                        ["--data", "2025-04-10"], measure_rss=True)
    assert bomb.code == 1
    line = next(text for text in bomb.output.splitlines()
                if text.strip().startswith("BtgExtractCarteira"))
    assert "FAILED" in line and "inflated bytes (at most 536870912 accepted)" in line
    assert re.search(r"BtgLoadRentabilidade\s+SUCCESS", bomb.output)
    assert healthy.peak_rss_mib is not None and bomb.peak_rss_mib is not None
    print(f"orquestrador-btg peak RSS: healthy day {healthy.peak_rss_mib} MiB, "
          f"zip bomb {bomb.peak_rss_mib} MiB")
    assert bomb.peak_rss_mib <= healthy.peak_rss_mib + 32
