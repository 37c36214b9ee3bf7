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
  now, so that a client never hears two different answers to one command;
- each entry keeps the command's digest (``command_digest``): a correlation id reused for a different
  command is told apart from a resend, and never answered with another command's outcome.

The events are kept as their encoded frames (the snapshot's format), not as objects: the window holds
up to ``capacity`` outcomes for as long as the service runs, and bytes are invisible to Python's
cyclic garbage collector, which would otherwise walk hundreds of thousands of event objects on every
full collection (measured: 80-150 ms pauses on the service thread, ~1.8 µs per command). Duplicates
are rare, so decoding on ``get`` costs nothing that matters.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator

from rfq.cluster.domain.messages import Event, Message
from rfq.codecs.rfq_sbe import decode, encode

DEFAULT_DEDUPE_CAPACITY = 100_000
"""Correlation ids remembered. A gateway's resend horizon is its unacknowledged commands at a leader
change, a few seconds of traffic at most; 100k commands at ~100 bytes per record is ~10 MB of snapshot."""


def command_digest(command: Message) -> int:
    """The first 8 bytes (little-endian) of BLAKE2b over the command's encoded frame: equal for a
    resend of the same command, different (but for a 2⁻⁶⁴ accident) for any other command."""
    digest = hashlib.blake2b(encode(command), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class DedupeWindow:
    """A bounded, insertion-ordered map: correlation id → (applied time ms, digest, encoded events)."""

    __slots__ = ("_capacity", "_entries")

    def __init__(self, capacity: int = DEFAULT_DEDUPE_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"dedupe capacity must be at least 1, not {capacity}")
        self._capacity = capacity
        self._entries: OrderedDict[int, tuple[int, int, tuple[bytes, ...]]] = OrderedDict()

    @property
    def capacity(self) -> int:
        return self._capacity

    def get(self, correlation_id: int) -> tuple[int, tuple[Event, ...]] | None:
        """(command digest, the events first produced) of ``correlation_id``, or None if not in the window."""
        entry = self._entries.get(correlation_id)
        return None if entry is None else (entry[1], _decoded(entry[2]))

    def record(
        self, correlation_id: int, applied_time_ms: int, digest: int, events: tuple[Event, ...]
    ) -> None:
        """Remember a newly applied correlation id, evicting the oldest one when the window is full."""
        self.record_frames(correlation_id, applied_time_ms, digest, tuple(encode(event) for event in events))

    def record_frames(
        self, correlation_id: int, applied_time_ms: int, digest: int, frames: tuple[bytes, ...]
    ) -> None:
        """:meth:`record` for events already encoded (a snapshot being restored)."""
        entries = self._entries
        entries[correlation_id] = (applied_time_ms, digest, frames)
        if len(entries) > self._capacity:
            entries.popitem(last=False)

    def frames(self) -> Iterator[tuple[int, int, int, tuple[bytes, ...]]]:
        """(correlation id, applied time ms, digest, encoded events), oldest applied first (for snapshots)."""
        for correlation_id, (applied_time_ms, digest, frames) in self._entries.items():
            yield correlation_id, applied_time_ms, digest, frames

    def __contains__(self, correlation_id: object) -> bool:
        return correlation_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[tuple[int, int, tuple[Event, ...]]]:
        """(correlation id, applied time ms, events), oldest applied first."""
        for correlation_id, (applied_time_ms, _digest, frames) in self._entries.items():
            yield correlation_id, applied_time_ms, _decoded(frames)


def _decoded(frames: tuple[bytes, ...]) -> tuple[Event, ...]:
    events: tuple[Event, ...] = tuple(decode(frame) for frame in frames)  # type: ignore[misc]
    return events
