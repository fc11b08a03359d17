"""The task graph of one date, read from Luigi itself, and what lies downstream of a task.

    graph = TaskGraph.walk(RunAll(date=date))
    graph.downstream("<Transform>")            # <Transform>, the loads that read it, ReportTask,
                                               # RunAll
Luigi has no forced rerun (upstream issue #595): to redo a task, its target and the target of
everything that depends on it must go, or Luigi would stop at the first complete task above it.
The graph is walked through ``luigi.task.flatten(task.requires())`` from the root down, which
calls no ``complete()``/``run()`` and so touches neither an API nor a warehouse; reversing its
edges gives the dependents of each task.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import luigi
import luigi.task


@dataclass
class TaskGraph:
    """Tasks by id, with their requirements (children) and dependents (parents)."""

    root: luigi.Task
    tasks: dict[str, luigi.Task] = field(default_factory=dict)
    requires: dict[str, list[str]] = field(default_factory=dict)
    dependents: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def walk(cls, root: luigi.Task) -> TaskGraph:
        """Every task reachable from ``root`` through ``requires()``."""
        graph = cls(root=root)
        pending = deque([root])
        graph.tasks[root.task_id] = root
        while pending:
            task = pending.popleft()
            children = luigi.task.flatten(task.requires())
            graph.requires[task.task_id] = [child.task_id for child in children]
            graph.dependents.setdefault(task.task_id, [])
            for child in children:
                graph.dependents.setdefault(child.task_id, []).append(task.task_id)
                if child.task_id not in graph.tasks:
                    graph.tasks[child.task_id] = child
                    pending.append(child)
        return graph

    def families(self) -> list[str]:
        """Every task family of the graph, sorted."""
        return sorted({task.task_family for task in self.tasks.values()})

    def by_family(self, family: str) -> list[luigi.Task]:
        """The tasks of one family (one per date in a daily graph)."""
        return [task for task in self.tasks.values() if task.task_family == family]

    def downstream(self, family: str) -> list[luigi.Task]:
        """The tasks of ``family`` and, transitively, every task that depends on them, nearest
        first (breadth-first from the named task, ties by family name)."""
        return self.downstream_of(task.task_id for task in self.by_family(family))

    def downstream_of(self, task_ids: Iterable[str]) -> list[luigi.Task]:
        """``task_ids`` and every task that depends on them, in dependency order (a task comes
        after everything of the set it requires; ties by family name)."""
        found: set[str] = set()
        pending = deque(task_ids)
        while pending:
            task_id = pending.popleft()
            if task_id not in found:
                found.add(task_id)
                pending.extend(self.dependents.get(task_id, []))
        # Longest path from the named tasks (Kahn's algorithm on the subgraph), so a load that
        # waits for another load is listed after it.
        waiting = {t: sum(1 for c in self.requires.get(t, []) if c in found) for t in found}
        level = dict.fromkeys(found, 0)
        ready = deque(t for t, count in waiting.items() if count == 0)
        while ready:
            task_id = ready.popleft()
            for parent in self.dependents.get(task_id, []):
                if parent in found:
                    level[parent] = max(level[parent], level[task_id] + 1)
                    waiting[parent] -= 1
                    if waiting[parent] == 0:
                        ready.append(parent)
        order = sorted(found, key=lambda t: (level[t], self.tasks[t].task_family))
        return [self.tasks[task_id] for task_id in order]
