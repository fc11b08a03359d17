"""``with`` support for objects that own a resource and have a ``close()``.

One small base instead of the same ``__enter__``/``__exit__`` pair in every client, warehouse
connection and background reader (like :func:`contextlib.closing`, but the object itself is the
context manager, so ``with TwitchClient.from_env() as client:`` reads naturally).
"""

from __future__ import annotations

from typing import Self


class Closing:
    """Mixin: ``with obj:`` returns ``obj`` and calls ``obj.close()`` on the way out."""

    def close(self) -> None:
        """Release what the object holds; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement close()")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
