"""Base of every ``luigi.cfg`` section class: a bad value is a ConfigError that names the key.

    class http(Section):
        timeout_s = luigi.FloatParameter(default=30.0)

    http()    # with `[http] timeout_s = abc`: ConfigError: luigi.cfg [http] timeout_s = 'abc' ...
    http()    # with `[http] timeout_s = 0`: ConfigError: ... timeout_s = '0' is out of range ...

A number must also be in range: at least 0 unless the section's ``bounds`` say otherwise
(``bounds = {"page_size": (1, 100)}``; None = no limit on that side), so a ``page_size = 0``
or a negative timeout is refused by ``etl-validate`` instead of misbehaving in a run.

Luigi reports it as ``ValueError: http[args=(), kwargs={}]: Error when parsing the default value
of 'timeout_s'`` with the parse error only in its cause, and inside a task that is a traceback
with exit 30. A ConfigError is one line everywhere (see :mod:`etl_tasks.error_boundary`) and is
what ``etl-validate`` reports.
"""

from __future__ import annotations

from typing import Any, ClassVar

import luigi
from luigi.configuration import get_config

from etl_tasks.error_boundary import bad_value_message as bad_value_message  # re-exported
from etl_tasks.errors import ConfigError
from etl_tasks.luigi_setup import install_luigi

install_luigi()  # the packaged defaults before any section reads its values


Bounds = tuple[float | None, float | None]
DEFAULT_BOUNDS: Bounds = (0, None)  # no count, size or duration of ours is negative


class Section(luigi.Config):
    """A ``luigi.Config`` whose unparsable or out-of-range values raise :class:`ConfigError`."""

    # Inclusive (lowest, highest) of numeric parameters; the rest are DEFAULT_BOUNDS.
    bounds: ClassVar[dict[str, Bounds]] = {}

    @classmethod
    def get_param_values(cls, params: Any, args: Any, kwargs: Any) -> Any:
        try:
            values = super().get_param_values(params, args, kwargs)
        except ValueError as error:
            raise ConfigError(bad_value_message(cls.get_task_family(), error)) from None
        for name, value in values:
            problem = out_of_range(value, cls.bounds.get(name, DEFAULT_BOUNDS))
            if problem:
                section = cls.get_task_family()
                shown = get_config().get(section, name, value)
                raise ConfigError(
                    f"luigi.cfg [{section}] {name} = {str(shown)!r} is out of range: {problem}"
                )
        return values


def out_of_range(value: Any, bounds: Bounds) -> str | None:
    """What is wrong with a numeric ``value`` for ``bounds``, or None (non-numbers pass)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    low, high = bounds
    if low is not None and high is not None and not low <= value <= high:
        return f"it must be between {low:g} and {high:g}"
    if low is not None and value < low:
        return f"it must be at least {low:g}"
    if high is not None and value > high:
        return f"it must be at most {high:g}"
    return None


def subclasses() -> list[type[luigi.Config]]:
    """Every :class:`Section` subclass defined so far (their modules imported)."""
    classes: list[type[luigi.Config]] = []
    pending: list[type[luigi.Config]] = [Section]
    while pending:
        for sub in pending.pop().__subclasses__():
            classes.append(sub)
            pending.append(sub)
    return classes


def section_errors(sections: list[type[luigi.Config]] | None = None) -> list[tuple[str, str]]:
    """``(section, message)`` for every known section holding a value that does not parse.

    Covers ``sections`` (default: every :class:`Section` subclass imported so far; etl-validate
    passes :func:`etl_tasks.validate.every_section`) and Luigi's own ``[core]``, ``[worker]`` and
    ``[retcode]``, so ``etl-validate`` finds a typo before a run."""
    import luigi.interface
    import luigi.retcodes
    import luigi.worker

    classes = list(subclasses() if sections is None else sections)
    classes += [luigi.interface.core, luigi.worker.worker, luigi.retcodes.retcode]
    problems = []
    for cls in classes:
        try:
            cls()
        except ConfigError as error:
            problems.append((cls.get_task_family(), str(error)))
        except ValueError as error:
            section = cls.get_task_family()
            problems.append((section, bad_value_message(section, error)))
    return problems
