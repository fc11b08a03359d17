"""The pipeline registry: every pipeline's :class:`Pipeline` declaration; nothing else names one.

    from etl_tasks.pipelines import registered, get
    for pipeline in registered(): ...

Each pipeline package declares one ``PIPELINE`` in its ``pipeline.py`` (name, tasks module, ``.env``
keys and set-up probes, calendar, landing directories, rerun command); shared code (configuration,
RunAll and the report, validation, alerts, backfill dates, the status page, the run driver) loops
over :func:`registered`. Adding a pipeline is one package and one line in :data:`PIPELINE_MODULES`.

Declarations are plain data plus small functions that import their heavy modules lazily, so reading
the registry costs no API client, no pandas and no task graph.
"""

from __future__ import annotations

import datetime as dt
import importlib
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from etl_tasks.errors import ConfigError

# One line per pipeline, in the order reports, grids and the status page show them.
PIPELINE_MODULES = (
    "etl_tasks.twitch.pipeline",
    "etl_tasks.btg.pipeline",
)


@dataclass(frozen=True)
class EnvKey:
    """One ``.env`` key a pipeline reads: its default (None = none) and a one-line help."""

    name: str
    default: str | None
    help: str
    required: bool = False


@dataclass(frozen=True)
class Probe:
    """A set-up check that talks to an external service (e.g. fetch an API token).

    ``run`` returns the success detail and raises on failure; ``fix`` says what to change."""

    name: str
    fix: str
    run: Callable[[], str]


@dataclass(frozen=True)
class RunOption:
    """A command-line option a pipeline adds to ``etl-run`` (e.g. ``--lookback N``).

    Its value reaches the pipeline's ``final_tasks(date, **options)`` through the ``options``
    parameter of ``RunAll``/``ReportTask`` (``{pipeline: {key: value}}``), never through global
    Luigi configuration. ``check`` returns what is wrong with a value, or None."""

    flag: str
    key: str
    type: Callable[[str], Any]
    metavar: str
    help: str
    check: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class Pipeline:
    """What shared code needs to know about one pipeline."""

    name: str
    title: str
    tasks_module: str  # provides stage_tasks(date) and final_tasks(date, **run options)
    env_keys: tuple[EnvKey, ...]
    probes: Callable[[], list[Probe]]
    calendar: str  # human name of the calendar, e.g. "every day", "ANBIMA business days"
    no_run_reason: Callable[[dt.date], str | None]  # why a date has no run, None when it has one
    landing_dirs: tuple[str, ...] = ()  # env keys of directories the pipeline writes raw files to
    live_snapshots: tuple[str, ...] = ()  # entities that can only be captured on their own day
    rerun: Callable[[dt.date], list[str]] | None = None  # argv that resumes one date of it alone
    run_by_default: bool = False  # part of etl-run / etl-backfill when no --pipeline is given
    step_names: dict[str, str] = field(default_factory=dict)  # task family -> human step name
    run_options: tuple[RunOption, ...] = ()  # its own etl-run options
    # Its own console commands and their configuration-error exit code (a guide's contract).
    commands: dict[str, int] = field(default_factory=dict)
    # The request plan of a run of a date (``etl-run --plan``), from the run's options.
    plan: Callable[[dt.date, Mapping[str, Any]], str] | None = None

    def tasks(self) -> ModuleType:
        """The tasks module (imported on first use)."""
        return importlib.import_module(self.tasks_module)

    def stage_tasks(self, date: dt.date) -> list:
        """Every extract/transform/check/schema/load task of ``date``."""
        return list(self.tasks().stage_tasks(date))

    def final_tasks(self, date: dt.date, options: Mapping[str, Any] | None = None) -> list:
        """What a run of ``date`` must finish (its loads), given the run's options of it."""
        return list(self.tasks().final_tasks(date, **dict(options or {})))

    def required_keys(self) -> list[str]:
        return [key.name for key in self.env_keys if key.required]

    def runs_on(self, date: dt.date) -> bool:
        return self.no_run_reason(date) is None

    def env_default(self, name: str) -> str | None:
        """The default of one of its ``.env`` keys (None: no default, or not its key)."""
        return next((key.default for key in self.env_keys if key.name == name), None)


_REGISTRY: dict[str, Pipeline] | None = None


def _load() -> dict[str, Pipeline]:
    global _REGISTRY
    if _REGISTRY is None:
        found: dict[str, Pipeline] = {}
        for module_name in PIPELINE_MODULES:
            pipeline = importlib.import_module(module_name).PIPELINE
            found[pipeline.name] = pipeline
        _REGISTRY = found
    return _REGISTRY


def registered() -> list[Pipeline]:
    """Every pipeline, in registry order."""
    return list(_load().values())


def names() -> list[str]:
    """Every pipeline's name, in registry order."""
    return list(_load())


def get(name: str) -> Pipeline:
    """One pipeline by name; ValueError listing the valid names otherwise."""
    try:
        return _load()[name]
    except KeyError:
        raise ValueError(
            f"unknown pipeline {name!r}: expected one of {', '.join(names())} (or all)"
        ) from None


def ordered(chosen: Sequence[str]) -> list[str]:
    """``chosen`` validated, without duplicates, in registry order."""
    wanted = {get(name).name for name in chosen}
    return [name for name in names() if name in wanted]


def parse_selection(text: str) -> list[str]:
    """``"all"``, one name, or a comma-separated list → pipeline names in registry order."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError(f"no pipeline given: expected {', '.join(names())} or all")
    if "all" in parts:
        return names()
    return ordered(parts)


def selected(value: str) -> list[str]:
    """The pipelines a ``RunAll(pipelines=...)`` value stands for: the selection it names, else
    (empty) those switched on in ``[pipelines]`` (:func:`enabled`)."""
    return parse_selection(value) if value else enabled()


def selection_text(chosen: Sequence[str]) -> str:
    """The ``--pipeline`` value that selects ``chosen`` (``all`` for every pipeline)."""
    chosen = ordered(chosen)
    return "all" if chosen == names() else ",".join(chosen)


def enabled() -> list[str]:
    """Pipelines switched on in ``[pipelines]`` of luigi.cfg (``<name> = true|false``; a pipeline
    not listed there is on): what plain ``luigi … RunAll`` covers."""
    # Imported here: the registry itself reads without Luigi (e.g. while luigi.cfg is broken).
    from luigi.configuration import get_config

    config = get_config()
    try:
        return [name for name in names() if config.getboolean("pipelines", name, True)]
    except ValueError as error:  # "Not a boolean: maybe": one line, not a traceback
        raise ConfigError(f"luigi.cfg [pipelines]: {error}; use true or false") from None


def defaults() -> list[str]:
    """Pipelines an entry point runs when none is named (``run_by_default``)."""
    return [p.name for p in registered() if p.run_by_default] or names()[:1]


def env_keys() -> list[EnvKey]:
    """Every pipeline's ``.env`` keys, in registry order."""
    return [key for pipeline in registered() for key in pipeline.env_keys]


def command_config_exits() -> dict[str, int]:
    """Every pipeline's own commands and their configuration-error exit code."""
    return {name: code for pipeline in registered() for name, code in pipeline.commands.items()}


def rerun_argv(date: dt.date, chosen: Sequence[str]) -> list[str]:
    """The command that resumes ``date`` for ``chosen``: one pipeline's own rerun command, else
    ``etl-run`` over the selection (finished stages are skipped on a rerun)."""
    chosen = ordered(chosen) or names()
    if len(chosen) == 1:
        rerun = get(chosen[0]).rerun
        if rerun is not None:
            return rerun(date)
    return ["etl-run", "--date", date.isoformat(), "--pipeline", selection_text(chosen)]


def rerun_command(
    date: dt.date | str, chosen: Sequence[str], *, cwd: Path | None = None
) -> str:
    """The exact shell command that resumes ``date`` for ``chosen`` (:func:`rerun_argv`), with
    the command installed beside the running interpreter, relative to ``cwd`` when it lives below
    it (``.venv/bin/etl-run``), so it can be pasted from an alert or the status page as it is."""
    day = date if isinstance(date, dt.date) else dt.date.fromisoformat(str(date))
    workdir = (cwd or Path.cwd()).absolute()
    name, *rest = rerun_argv(day, list(chosen))
    return f"cd {shlex.quote(str(workdir))} && {shlex.join([_installed(name, workdir), *rest])}"


def _installed(name: str, workdir: Path) -> str:
    """``name`` next to this interpreter (relative to ``workdir`` if inside it), else bare."""
    script = Path(sys.executable).absolute().parent / name
    if not script.exists():
        return name
    try:
        return str(script.relative_to(workdir))
    except ValueError:
        return str(script)


def task_pipeline(task_family: str) -> Pipeline | None:
    """The pipeline whose tasks module defines ``task_family`` (None for shared tasks)."""
    for pipeline in registered():
        if task_family in getattr(pipeline.tasks(), "__all__", ()):
            return pipeline
    return None
