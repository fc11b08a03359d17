"""Set-up checks (the original guide's validate_setup.py): environment, dependencies, config files,
warehouses, APIs, directories. Each check returns a :class:`Check` with a fix hint when it fails."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from luigi.configuration import LuigiConfigParser, get_config

from etl_tasks import config
from etl_tasks import pipelines as registry
from etl_tasks.config_section import section_errors, subclasses
from etl_tasks.core.redact import redact
from etl_tasks.errors import EtlError
from etl_tasks.probes import directory_status, sqlite_status

logger = logging.getLogger(__name__)

# distribution name -> import name
DEPENDENCIES = {
    "luigi": "luigi",
    "requests": "requests",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "psycopg2-binary": "psycopg2",
    "pymysql": "pymysql",
    "python-dotenv": "dotenv",
    "holidays": "holidays",
}
REQUIRED_RETCODES = (
    "already_running",
    "missing_data",
    "not_run",
    "task_failed",
    "scheduling_error",
    "unhandled_exception",
)


@dataclass
class Check:
    """The outcome of one check."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "✅" if self.ok else "❌"
        text = f"{mark} {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}\n      → {self.fix}"


def guarded(name: str, fix: str, probe: Callable[[], str]) -> Check:
    """Run ``probe``; its return is the success detail, any exception the (redacted) failure."""
    try:
        return Check(name, True, probe())
    except Exception as error:
        return Check(name, False, redact(f"{type(error).__name__}: {error}"), fix)


def check_env(pipelines: list[str]) -> list[Check]:
    env_file = Path(os.environ.get("ETL_ENV_FILE") or ".env")
    config.load_env()
    checks = [
        Check(".env", True, f"loaded {env_file.resolve()}")
        if env_file.is_file()
        else Check(".env", True, "no .env file; using the process environment only")
    ]
    for pipeline in pipelines:
        required = registry.get(pipeline).required_keys()
        missing = [key for key in required if not config.env(key)]
        checks.append(
            Check(
                f"{pipeline} credentials",
                False,
                f"missing {', '.join(missing)}",
                "copy .env.example to .env and fill these keys (or export them)",
            )
            if missing
            else Check(f"{pipeline} credentials", True, ", ".join(required) + " set")
        )
    return checks


def check_dependencies() -> list[Check]:
    checks = []
    for distribution, module in DEPENDENCIES.items():

        def probe(distribution: str = distribution, module: str = module) -> str:
            importlib.import_module(module)
            return importlib.metadata.version(distribution)

        checks.append(
            guarded(f"python package {distribution}", "pip install -r requirements.txt", probe)
        )
    return checks


def check_config_files() -> list[Check]:
    parser = get_config()
    read = [p for p in LuigiConfigParser._config_paths if Path(p).is_file()]
    if not read:
        return [
            Check(
                "luigi.cfg",
                False,
                "no luigi.cfg found",
                "run from the project directory or set LUIGI_CONFIG_PATH",
            )
        ]
    missing = [key for key in REQUIRED_RETCODES if not parser.has_option("retcode", key)]
    level = parser.get("core", "log_level", "DEBUG")
    checks = [Check("luigi.cfg", True, "read " + ", ".join(str(Path(p).resolve()) for p in read))]
    checks.append(
        Check(
            "[retcode]",
            False,
            f"missing {', '.join(missing)}",
            "restore the [retcode] section from the repository's luigi.cfg",
        )
        if missing
        else Check(
            "[retcode]",
            True,
            "exit codes configured (task_failed=" + parser.get("retcode", "task_failed") + ")",
        )
    )
    checks.append(
        Check(
            "[core] log_level",
            level.upper() != "DEBUG",
            level,
            "set log_level = INFO in [core]; DEBUG floods cron logs",
        )
    )
    for section, problem in section_errors(every_section()):  # values that would fail a task
        checks.append(Check(f"[{section}]", False, problem, "fix the value in luigi.cfg"))
    return checks


def every_section() -> list[type]:
    """Every :class:`Section` of the project, its modules imported first: a section is defined by
    the module that uses it (the task modules, the shared and alert sections), and a command
    imports those only when it needs them."""
    import etl_tasks
    from etl_tasks import alert_settings, config_sections  # noqa: F401  (defines their sections)

    etl_tasks.__all__  # noqa: B018  (imports every task module, with its sections)
    return subclasses()


def check_warehouses(pipelines: list[str]) -> list[Check]:
    from etl_tasks.warehouse.factory import connect

    checks = []
    for pipeline in pipelines:

        def probe(pipeline: str = pipeline) -> str:
            url = config.warehouse_url(pipeline)
            if url.lower().startswith("sqlite:"):  # connecting would create the file
                return f"{config.redact_url(url)} ({sqlite_status(url)})"
            with connect(url) as warehouse:
                return f"{config.redact_url(url)} ({warehouse.ping()})"

        checks.append(
            guarded(
                f"{pipeline} warehouse",
                f"start the database or fix {config.warehouse_key(pipeline)}"
                " / WAREHOUSE_URL in .env",
                probe,
            )
        )
    return checks


def check_apis(pipelines: list[str]) -> list[Check]:
    """Each pipeline's own probes (e.g. fetch an API token)."""
    return [
        guarded(probe.name, probe.fix, probe.run)
        for pipeline in pipelines
        for probe in registry.get(pipeline).probes()
    ]


def check_directories(pipelines: list[str]) -> list[Check]:
    directories = {"output directory": config.output_root(), "logs directory": config.logs_root()}
    for pipeline in pipelines:
        for key in registry.get(pipeline).landing_dirs:
            directories[key] = Path(config.env(key) or "")
    return [
        guarded(
            name,
            f"create {path} or give this user write permission",
            lambda path=path: directory_status(path),
        )
        for name, path in directories.items()
    ]


def run_checks(pipelines: list[str], network: bool = True, apis: bool = True) -> list[Check]:
    """Every check, in the order of the original guide (``apis=False``: the warehouses but no
    API request)."""
    checks = check_env(pipelines) + check_dependencies() + check_config_files()
    if network:
        checks += check_warehouses(pipelines)
        if apis:
            checks += check_apis(pipelines)
    return checks + check_directories(pipelines)


def is_error(error: BaseException) -> bool:
    """Known, explained errors (no traceback needed)."""
    return isinstance(error, EtlError)


def validated(pipelines: list[str]) -> bool:
    """The etl-validate checks for the pipelines; failures are logged with their fix."""
    failed = [check for check in run_checks(pipelines) if not check.ok]
    for check in failed:
        logger.error("setup check failed: %s", check.line())
    if failed:
        logger.error("fix the setup (run etl-validate for the full list) and run again")
    return not failed
