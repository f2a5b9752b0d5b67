"""The compiled plans of one model, by key: bounded (least recently used shapes dropped) and
lent to one caller at a time, so threads calling one model never share buffers."""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, Hashable, Iterator

# Distinct plan keys (device, training flag, feed shapes, targets) one model keeps. A server fed
# many request sizes recompiles the rare ones instead of growing without end: a plan holds its
# whole working memory (megabytes for a CNN batch), and scheduling one costs about a millisecond.
PLAN_CACHE_SIZE = 32


class PlanCache:
    """Plans by key. `take` lends an idle plan of the key (building one when every plan of the
    key is lent out: a concurrent caller gets a plan of its own) and `give` returns it. Each key
    keeps as many idle plans as callers ever ran it at once; past `size` keys, the least recently
    taken key is dropped. A plan comes back to the list it was taken for: once its key is dropped
    or the cache cleared (a recompile), nothing holds that list and the plan goes with it."""

    def __init__(self, size: int = PLAN_CACHE_SIZE) -> None:
        self.size = size
        self._idle: OrderedDict[Hashable, list] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: Hashable, build: Callable[[], Any]) -> tuple[Any, list]:
        """A plan of `key` that no other caller holds (`build()` makes one when none is idle),
        and the list to give it back to."""
        with self._lock:
            idle = self._idle.get(key)
            if idle is None:
                self._idle[key] = idle = []
                while len(self._idle) > self.size:
                    self._idle.popitem(last=False)
            else:
                self._idle.move_to_end(key)
            if idle:
                return idle.pop(), idle
        return build(), idle  # outside the lock: scheduling and allocation take a while

    @staticmethod
    def give(plan: Any, idle: list) -> None:
        """Returns a plan taken with `take` to its list (list.append is atomic under the GIL:
        no lock)."""
        idle.append(plan)

    @contextmanager
    def lend(self, key: Hashable, build: Callable[[], Any]) -> Iterator[Any]:
        """`with cache.lend(key, build) as plan:` take, then give back however the block ends."""
        plan, idle = self.take(key, build)
        try:
            yield plan
        finally:
            self.give(plan, idle)

    def clear(self) -> None:
        with self._lock:
            self._idle = OrderedDict()

    def __len__(self) -> int:
        """The number of keys cached."""
        return len(self._idle)

    def plans(self) -> list[Any]:
        """The idle plans, least recently used key first (for inspection and memory counts)."""
        with self._lock:
            return [plan for idle in self._idle.values() for plan in idle]
