"""The package as users install it: a wheel and an sdist built from the source tree, each installed
into a fresh virtual environment outside the repository, then run from a directory that has no
luigi.cfg. The cron-safe defaults (exit 30 for a failed task, INFO logging) must come with the
package; a user's own luigi.cfg must still override them.

No network: the fresh venvs see this test venv's site-packages through a ``.pth`` line (so the
dependencies and pip are importable), and the package itself is installed with ``--no-deps
--no-index``. A ``.pth`` line adds a directory without running the ``.pth`` files inside it, so the
editable install of the checkout never leaks in (the test asserts where etl_tasks is imported from).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

# Never copied into the build tree: runtime data, caches, other builds, the test venv.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "output", "logs", "build", "dist", "*.egg-info", "__pycache__",
    ".pytest_cache", ".ruff_cache", ".env",
)


def run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A wheel and an sdist built (no isolation, no network) from a copy of the source tree.

    ``python -m build`` builds the sdist first and the wheel from the unpacked sdist, so the wheel
    also proves the sdist carries everything setup.py reads (requirements.txt, README.md)."""
    root = tmp_path_factory.mktemp("build")
    source = root / "src"
    shutil.copytree(REPO_ROOT, source, ignore=IGNORED)
    out = root / "dist"
    done = run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), "."], source)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def fresh_venv(directory: Path) -> Path:
    """A venv without pip whose imports fall back on this test venv's site-packages."""
    done = run([sys.executable, "-m", "venv", "--without-pip", str(directory)], directory.parent)
    assert done.returncode == 0, done.stderr
    python = directory / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  directory.parent).stdout.strip()
    Path(purelib, "test-venv-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def install(python: Path, dist: Path) -> None:
    done = run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                "--no-build-isolation", "--ignore-installed", str(dist)], dist.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def clean_env() -> dict[str, str]:
    """The environment of a cron job: no project configuration, no credentials."""
    drop = ("LUIGI_CONFIG_PATH", "ETL_", "TWITCH_", "BTG_", "WAREHOUSE_URL", "PYTHONPATH")
    return {key: value for key, value in os.environ.items() if not key.startswith(drop)}


@pytest.fixture(scope="module", params=["wheel", "sdist"])
def installed(request: pytest.FixtureRequest, dists: dict[str, Path],
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv outside the repository with the wheel (or sdist) installed."""
    python = fresh_venv(tmp_path_factory.mktemp(f"venv-{request.param}") / "venv")
    install(python, dists[request.param])
    return python


def plain_luigi(python: Path, directory: Path) -> subprocess.CompletedProcess:
    """``luigi --module etl_tasks`` (Luigi's own command line) with a task that fails at once:
    no Twitch credentials anywhere."""
    return run([str(python), "-m", "luigi", "--module", "etl_tasks", "TwitchExtractStreams",
                "--date", "2025-04-10", "--local-scheduler"], directory, clean_env())


def test_installed_package_is_the_one_imported(installed: Path, tmp_path: Path) -> None:
    done = run([str(installed), "-c", "import etl_tasks; print(etl_tasks.__file__)"], tmp_path,
               clean_env())
    assert done.returncode == 0, done.stderr
    location = Path(done.stdout.strip()).resolve()
    assert installed.parent.parent in location.parents, location
    assert REPO_ROOT not in location.parents
    assert (location.parent / "defaults.cfg").is_file()


def test_failing_task_exits_30_and_logs_at_info(installed: Path, tmp_path: Path) -> None:
    assert not (tmp_path / "luigi.cfg").exists()
    done = plain_luigi(installed, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 30, output[-3000:]
    assert "TWITCH_CLIENT_ID is not set" in output
    lines = output.splitlines()
    assert any(line.startswith("INFO: ") for line in lines), output[-2000:]
    assert not [line for line in lines if line.startswith("DEBUG: ")]
    # Luigi's own command ends, as every other, with its run record (stdout's last line).
    record = json.loads((tmp_path / "output" / "runs.jsonl").read_text().splitlines()[-1])
    assert record["exit_code"] == 30 and record["status"] == "FAILED"
    assert done.stdout.strip().splitlines()[-1].endswith("0 tasks run · exit 30 (FAILED)")


def test_user_luigi_cfg_overrides_the_packaged_defaults(installed: Path, tmp_path: Path) -> None:
    user_config = "[retcode]\ntask_failed = 31\n\n[core]\nlog_level = DEBUG\n"
    (tmp_path / "luigi.cfg").write_text(user_config)
    done = plain_luigi(installed, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 31, output[-3000:]
    assert any(line.startswith("DEBUG: ") for line in output.splitlines())


def test_installed_commands_answer_version(installed: Path, tmp_path: Path) -> None:
    version = run([str(installed), "-c",
                   "import importlib.metadata as m; print(m.version('etl_tasks'))"],
                  tmp_path, clean_env()).stdout.strip()
    done = run([str(installed.parent / "etl-run"), "--version"], tmp_path, clean_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"etl-run {version}"), done.stdout
