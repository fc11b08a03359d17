"""The luigi.cfg files, read the way Luigi reads them, with or without Luigi imported.

    output_dir = luigi_cfg.get("paths", "output_dir", "output")

One list of files, in Luigi's order (later files win): the packaged ``etl_tasks/defaults.cfg``
first (lowest precedence), then ``/etc/luigi/client.cfg``, ``/etc/luigi/luigi.cfg``,
``client.cfg``, ``luigi.cfg`` in the current directory, then ``LUIGI_CONFIG_PATH``.
:func:`etl_tasks.config.install_packaged_defaults` puts the same packaged file first in Luigi's own
list, so both readers see the same files.

Once Luigi is imported (any run that builds tasks, ``luigi --module etl_tasks``, the tests) every
value comes from Luigi's own parser, ``get_config()``, so values a command sets at run time
(``get_config().set(...)``) are seen. Before that — the no-op rerun, which must not pay for
importing Luigi — the files are parsed here with :mod:`configparser` and the same rules: option
names case-sensitive, ``%(name)s`` and ``${ENVVAR}`` interpolation, ``dash-style`` names accepted
for ``underscore_style``. A TOML configuration (``LUIGI_CONFIG_PARSER=toml`` or a ``.toml``
``LUIGI_CONFIG_PATH``) is always read by Luigi.
"""

from __future__ import annotations

import configparser
import functools
import hashlib
import os
import re
import sys
from pathlib import Path

# Package data: the cron-safe Luigi defaults ([retcode], INFO logging, check_complete_on_run).
PACKAGED_DEFAULTS = Path(__file__).resolve().parent / "defaults.cfg"
# luigi.configuration.LuigiConfigParser._config_paths, in its order.
LUIGI_PATHS = ("/etc/luigi/client.cfg", "/etc/luigi/luigi.cfg", "client.cfg", "luigi.cfg")
_ENV_REFERENCE = re.compile(r"\$\{([^}]+)\}")
# Set in Luigi's configuration by our own code for the process it runs in (not configuration).
RUNTIME_KEYS = {("core", "lock_pid_dir"), ("core", "no_configure_logging")}


def config_paths() -> list[str]:
    """Every configuration file Luigi reads, lowest precedence first (missing ones included)."""
    paths = [str(PACKAGED_DEFAULTS), *LUIGI_PATHS]
    extra = os.environ.get("LUIGI_CONFIG_PATH")
    if extra and os.path.isfile(extra):
        paths.append(extra)
    return paths


def _luigi_reads() -> bool:
    """True when values must come from Luigi's parser: it is loaded, or the files are TOML."""
    if "luigi.configuration" in sys.modules:
        return True
    extra = os.environ.get("LUIGI_CONFIG_PATH", "")
    return os.environ.get("LUIGI_CONFIG_PARSER", "cfg") == "toml" or extra.endswith(".toml")


class _Interpolation(configparser.BasicInterpolation):
    """``%(name)s`` then ``${ENVVAR}``, as Luigi's ``CombinedInterpolation`` applies them."""

    def before_get(self, parser, section, option, value, defaults):  # type: ignore[no-untyped-def]
        value = super().before_get(parser, section, option, value, defaults)

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise configparser.InterpolationError(
                    option,
                    section,
                    f"Config refers to a nonexisting environment variable {name}. "
                    f"Section [{section}], option {option}={value}",
                )
            return os.environ[name]

        return _ENV_REFERENCE.sub(substitute, value)


def _read(paths: tuple[str, ...]) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=_Interpolation())
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # as Luigi: case-sensitive
    try:
        parser.read(paths, encoding="utf-8")
    except configparser.Error as error:  # as when Luigi reads it: one line, the command's code
        from etl_tasks.error_boundary import exit_unreadable_config

        exit_unreadable_config(error)
    return parser


_parsed = functools.cache(_read)


def get(section: str, option: str, default: str | None = None) -> str | None:
    """The value of ``[section] option`` in the configuration, else ``default``."""
    if _luigi_reads():
        from luigi.configuration import get_config

        return get_config().get(section, option, default)
    parser = _parsed(tuple(config_paths()))
    for name in (option.replace("-", "_"), option.replace("_", "-")):
        if parser.has_option(section, name):
            return parser.get(section, name)
    return default


def _snapshot(parser: configparser.RawConfigParser) -> dict[str, dict[str, str]]:
    sections = {
        section: {
            key: value
            for key, value in parser.items(section, raw=True)
            if (section, key) not in RUNTIME_KEYS
        }
        for section in parser.sections()
    }
    return {section: values for section, values in sections.items() if values}


def memory_matches_files() -> bool:
    """True unless Luigi's loaded configuration holds values the files do not say (set in
    memory, e.g. by a test or the demo), or is not an INI one: only then is a digest of the files
    (:func:`files_digest`) a digest of the configuration in force."""
    if "luigi.configuration" not in sys.modules:
        return not _luigi_reads()
    from luigi.configuration import get_config

    config = get_config()
    if not isinstance(config, configparser.RawConfigParser):
        return False
    return _snapshot(config) == _snapshot(_read(tuple(config_paths())))


def files_digest() -> str:
    """sha256 over every configuration file's path and content (absent files included): equal
    digests mean the same configuration on disk."""
    digest = hashlib.sha256()
    for path in config_paths():
        try:
            content = Path(path).read_bytes()
        except OSError:
            content = b"\0absent"
        digest.update(f"{Path(path).absolute()}\n{len(content)}\n".encode() + content)
    return digest.hexdigest()
