"""The fork server the bad-input table runs its commands through: a command that outlives its
timeout is killed, and whether a command is killed or finishes just as its timeout expires, the
next command gets its own answers (a command that finished at that moment once shifted every
later case's answers by one)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import project_env
from tests.forkserver import run_forked


def test_timed_out_commands_leave_the_next_command_its_own_answers(tmp_path: Path) -> None:
    env = project_env(tmp_path)
    for _ in range(5):
        # A timeout of 0 expires while the command runs or as it ends: each outcome is either a
        # timeout or this command's own result, never another command's.
        try:
            result = run_forked(["etl-run", "--version"], tmp_path, env, timeout=0)
        except subprocess.TimeoutExpired:
            continue
        assert result.code == 0 and result.stdout.startswith("etl-run "), result
    with pytest.raises(subprocess.TimeoutExpired):  # a command that never ends is killed
        run_forked(["etl-sandbox", "--port", "0"], tmp_path, env, timeout=3)
    version = run_forked(["etl-run", "--version"], tmp_path, env)
    assert version.code == 0 and version.stdout.startswith("etl-run "), version
    usage = run_forked(["etl-run", "--date", "not-a-date"], tmp_path, env)
    assert usage.code == 2 and "not-a-date" in usage.stderr, usage
