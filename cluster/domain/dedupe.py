"""The dedupe window: which correlation ids were applied, and the events each one produced.

Why: Aeron Cluster delivers a command at least once (a gateway resends its unacknowledged commands
after a leader change), the platform promises exactly-once effect. A command whose correlation id is in
the window is answered with its original events and changes nothing.

Contract:
- the window keeps the ``capacity`` most recently applied correlation ids; when full, the oldest
  applied is evicted first (a correlation id is applied at most once, so "oldest" is plain apply order);
- it is replicated state: every node must run with the same capacity, and the window is written to the
  snapshot oldest first (``DedupeRecord``) so that a restored node evicts exactly as the others do;
- refusals are recorded too: a resent command that was refused stays refused, even if it would succeed
  now, so that a client never hears two different answers to one command.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from rfq.cluster.domain.messages import Event

DEFAULT_DEDUPE_CAPACITY = 100_000
"""Correlation ids remembered. A gateway's resend horizon is its unacknowledged commands at a leader
change, a few seconds of traffic at most; 100k commands at ~100 bytes per record is ~10 MB of snapshot."""


class DedupeWindow:
    """A bounded, insertion-ordered map: correlation id → (applied cluster time ms, events)."""

    __slots__ = ("_capacity", "_entries")

    def __init__(self, capacity: int = DEFAULT_DEDUPE_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"dedupe capacity must be at least 1, not {capacity}")
        self._capacity = capacity
        self._entries: OrderedDict[int, tuple[int, tuple[Event, ...]]] = OrderedDict()

    @property
    def capacity(self) -> int:
        return self._capacity

    def get(self, correlation_id: int) -> tuple[Event, ...] | None:
        """The events first produced by ``correlation_id``, or None if it is not in the window."""
        entry = self._entries.get(correlation_id)
        return None if entry is None else entry[1]

    def record(self, correlation_id: int, applied_time_ms: int, events: tuple[Event, ...]) -> None:
        """Remember a newly applied correlation id, evicting the oldest one when the window is full."""
        entries = self._entries
        entries[correlation_id] = (applied_time_ms, events)
        if len(entries) > self._capacity:
            entries.popitem(last=False)

    def __contains__(self, correlation_id: object) -> bool:
        return correlation_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[tuple[int, int, tuple[Event, ...]]]:
        """(correlation id, applied time ms, events), oldest applied first."""
        for correlation_id, (applied_time_ms, events) in self._entries.items():
            yield correlation_id, applied_time_ms, events
