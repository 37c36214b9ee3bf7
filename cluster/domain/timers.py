"""The timer port: how the state machine asks for an RFQ's expiry, and an in-memory implementation.

Contract:
- the correlation id of a timer is the ``rfq_id`` of the RFQ it expires (the service schedules no other
  timers; an adapter that ever needs more must give them ids in a range RFQ ids never reach);
- ``schedule(correlation_id, deadline_ms)`` asks for ``StateMachine.on_timer(correlation_id, t)`` at a
  cluster time ``t >= deadline_ms``; scheduling an id again replaces its deadline (Aeron's semantics);
- ``cancel(correlation_id)`` withdraws it; cancelling an unknown id is harmless.

The Aeron adapter implements it with ``Cluster.scheduleTimer`` / ``Cluster.cancelTimer``; Aeron fires
timers through the replicated log, so every replica sees the same firing at the same log position and
the consensus module snapshots and restores pending timers itself.
"""

from __future__ import annotations

import heapq
from typing import Protocol


class TimerPort(Protocol):
    """Where the state machine schedules and cancels expiry timers (see the module docstring)."""

    def schedule(self, correlation_id: int, deadline_ms: int) -> None:
        """Ask for ``on_timer(correlation_id, t)`` at cluster time ``t >= deadline_ms``."""

    def cancel(self, correlation_id: int) -> None:
        """Withdraw the timer ``correlation_id`` if it is pending."""


class NullTimers:
    """A ``TimerPort`` that ignores every request: for measuring the state machine's own cost."""

    __slots__ = ()

    def schedule(self, correlation_id: int, deadline_ms: int) -> None:
        pass

    def cancel(self, correlation_id: int) -> None:
        pass


class InMemoryTimers:
    """A deterministic ``TimerPort`` for tests, benchmarks and offline replay.

    Pending timers are kept by id; ``pop_due(now_ms)`` hands back the due ones ordered by
    (deadline, id), which is the order a caller should feed to ``StateMachine.on_timer``.
    """

    __slots__ = ("_heap", "_pending")

    def __init__(self) -> None:
        self._pending: dict[int, int] = {}
        self._heap: list[tuple[int, int]] = []

    def schedule(self, correlation_id: int, deadline_ms: int) -> None:
        self._pending[correlation_id] = deadline_ms
        heapq.heappush(self._heap, (deadline_ms, correlation_id))

    def cancel(self, correlation_id: int) -> None:
        self._pending.pop(correlation_id, None)

    def pending(self) -> dict[int, int]:
        """A copy of the pending timers: correlation id → deadline."""
        return dict(self._pending)

    def next_deadline(self) -> int | None:
        """The earliest pending deadline, or None when nothing is pending."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ms: int) -> list[tuple[int, int]]:
        """Remove and return the timers due at ``now_ms`` as (correlation id, deadline), earliest first."""
        due: list[tuple[int, int]] = []
        heap = self._heap
        while heap:
            self._drop_stale()
            if not heap or heap[0][0] > now_ms:
                break
            deadline, correlation_id = heapq.heappop(heap)
            del self._pending[correlation_id]
            due.append((correlation_id, deadline))
        return due

    def _drop_stale(self) -> None:
        """Discard heap entries that were cancelled or re-scheduled since they were pushed."""
        heap = self._heap
        while heap and self._pending.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)

    def __len__(self) -> int:
        return len(self._pending)
