"""Thread-safe named counters for stage sidecars (HTTP requests, tickets, pages, ...).

A subclass is a dataclass whose number fields are the counters; ``add(name=amount, ...)`` updates
them under one lock, since a client's worker threads count at the same time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Counters:
    """Base of the counter dataclasses: the lock and ``add``."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        """Increase counters by name, e.g. ``add(requests=1, bytes_received=512)``."""
        with self._lock:
            for name, amount in counts.items():
                setattr(self, name, getattr(self, name) + amount)
