"""Configuration: luigi.Config sections from luigi.cfg, secrets and URLs from the environment.

Non-secret knobs (page sizes, retries, paths) live in ``luigi.cfg`` sections named after Luigi
config classes (the shared ``[paths]`` and ``[http]`` in :mod:`etl_tasks.config_sections`, which
this module does not import: reading the environment and the paths needs no Luigi);
``[pipelines] <name> = true|false`` (read by ``etl_tasks.pipelines.enabled``) says
which pipelines plain ``luigi … RunAll`` covers. Secrets and endpoints (client ids/secrets, base
URLs, warehouse URLs that may carry a password) come only from the process environment or a
``.env`` file, are read through :func:`env` / :func:`require_env`, and never become Luigi
parameters — Luigi prints parameters in logs, task ids and e-mails.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import load_dotenv

from etl_tasks.core.runtime import logs_root as logs_root  # re-exported: [paths] logs_dir
from etl_tasks.core.runtime import output_root as output_root  # [paths] output_dir
from etl_tasks.errors import ConfigError
from etl_tasks.luigi_cfg import PACKAGED_DEFAULTS

_ENV_LOADED = False

# Keys every pipeline shares, with their default (None = required where used) and a one-line help;
# each pipeline declares its own in its ``pipeline.py`` (see :func:`known_keys`).
SHARED_ENV_KEYS: dict[str, tuple[str | None, str]] = {
    "WAREHOUSE_URL": ("sqlite:///output/warehouse/etl.db", "default warehouse of every pipeline"),
}


def install_packaged_defaults() -> None:
    """Make ``etl_tasks/defaults.cfg`` Luigi's lowest-precedence configuration file (idempotent).

    Luigi reads ``/etc/luigi/*.cfg``, ``./luigi.cfg`` and ``LUIGI_CONFIG_PATH`` in that order, later
    files winning; inserting the packaged file first keeps every one of those able to override it,
    from any directory and whether the package was installed editable, from a wheel or an sdist."""
    from luigi.configuration import LuigiConfigParser, get_config

    paths = LuigiConfigParser._config_paths
    if str(PACKAGED_DEFAULTS) not in paths:
        paths.insert(0, str(PACKAGED_DEFAULTS))
        get_config().reload()


def known_keys() -> dict[str, tuple[str | None, str]]:
    """Every key the tool reads: the shared ones, then each registered pipeline's."""
    from etl_tasks.pipelines import env_keys

    keys = dict(SHARED_ENV_KEYS)
    keys.update({key.name: (key.default, key.help) for key in env_keys()})
    return keys


def load_env(path: str | os.PathLike[str] | None = None) -> None:
    """Load ``.env`` once; the process environment wins over it.

    The file is ``path``, else ``ETL_ENV_FILE``, else ``./.env``. Only ``./.env`` is optional: a
    file named explicitly that does not exist is a :class:`ConfigError`, never silently skipped
    (a cron job would otherwise run without its credentials or against the default warehouse)."""
    global _ENV_LOADED
    if _ENV_LOADED and path is None:
        return
    named = path or os.environ.get("ETL_ENV_FILE")
    env_file = Path(named or ".env")
    if named and not env_file.is_file():
        raise ConfigError(
            f"ETL_ENV_FILE={named} does not exist (or is not a file). Create it (cp .env.example "
            f"{named}), point ETL_ENV_FILE at your .env, or unset it to read ./.env."
        )
    if env_file.is_file():
        load_dotenv(env_file, override=False)
    _ENV_LOADED = True


def env(key: str, default: str | None = None) -> str | None:
    """Value of an environment key (after loading .env), else ``default`` or the documented one."""
    load_env()
    value = os.environ.get(key)
    if value not in (None, ""):
        return value
    if default is not None:
        return default
    return known_keys().get(key, (None, ""))[0]


def require_env(key: str) -> str:
    """Value of a required key, or a :class:`ConfigError` that says how to set it."""
    value = env(key)
    if not value:
        help_text = known_keys().get(key, (None, key))[1]
        raise ConfigError(
            f"{key} is not set ({help_text}). Add it to .env (see .env.example) or export it."
        )
    return value


def warehouse_url(pipeline: str) -> str:
    """The warehouse URL of a pipeline: ``<PIPELINE>_WAREHOUSE_URL``, else ``WAREHOUSE_URL``."""
    return env(warehouse_key(pipeline)) or require_env("WAREHOUSE_URL")


def warehouse_key(pipeline: str) -> str:
    """The ``.env`` key of one pipeline's own warehouse (``<PIPELINE>_WAREHOUSE_URL``)."""
    return f"{pipeline.upper()}_WAREHOUSE_URL"


def redact_url(url: str) -> str:
    """A URL fit for a log line: the password replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
