"""The dedupe window: which correlation ids were applied, to which command, and the events each produced.

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
- each entry knows which command it answered (``same_command``): a correlation id reused for a
  different command is told apart from a resend, and never answered with another command's outcome.

Cost, which decides the representation (every command pays it): an entry holds the command and its
outcome's events frozen (``frozen.py``: plain values, which cost one small function call each to make,
where a strict encode costs several µs per event), laid end to end in one flat tuple, which the cyclic
garbage collector stops tracking the first time it sees it (``_Entry`` says why flat). The snapshot
holds a 64-bit digest of the frozen command (``key_digest``) and the events encoded; a restored entry
keeps that digest, and a resend is checked against the digest of its own frozen form. Duplicates are
rare, so thawing on ``get`` costs nothing that matters.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from rfq.cluster.domain.frozen import FREEZERS, FROZEN_LENGTHS, Frozen, thaw
from rfq.cluster.domain.messages import Event, Message
from rfq.codecs.rfq_sbe import decode, encode

DEFAULT_DEDUPE_CAPACITY = 100_000
"""Correlation ids remembered. A gateway's resend horizon is its unacknowledged commands at a leader
change, a few seconds of traffic at most; 100k commands at ~150 bytes per record is ~15 MB of snapshot."""

CommandKey = Frozen
"""A command frozen: its template id and field values. Equal for a resend, different for any other command."""


def command_key(command: Message) -> CommandKey:
    """The command frozen (``frozen.freeze``); raises ``KeyError`` for a snapshot record."""
    return FREEZERS[type(command)](command)  # ``freeze``, one call less: every command makes its key


def key_digest(key: CommandKey) -> int:
    """The first 8 bytes (little-endian) of BLAKE2b over the key's ``repr``: the snapshot's digest of a
    command. The repr of a tuple of ints, strings and None is the same in every process."""
    digest = hashlib.blake2b(repr(key).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def command_digest(command: Message) -> int:
    """``key_digest(command_key(command))``."""
    return key_digest(command_key(command))


_RESTORED = 0
"""Marks an entry restored from a snapshot (no template id is 0)."""

_Entry = tuple[Any, ...]
"""Applied here: ``(applied time ms, *command frozen, *each event frozen)``, all in one flat tuple;
restored from a snapshot: ``(applied time ms, _RESTORED, command digest, encoded events)``.

Why flat: the collector untracks a tuple of plain values the first time it examines it, but a tuple
holding tuples only once they are untracked, and it examines the held ones after their holder; a
nested entry ``(time, key, (event, ...))`` thus lived through two young collections into the oldest
generation, and the collections spent on such entries were ~17% of apply()'s CPU time on the bench
mix (200k commands). Frozen messages laid end to end are told apart by their template ids
(``frozen.FROZEN_LENGTHS``)."""


class DedupeWindow:
    """A bounded, insertion-ordered map: correlation id → the command applied and its outcome."""

    __slots__ = ("_capacity", "_entries")

    def __init__(self, capacity: int = DEFAULT_DEDUPE_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"dedupe capacity must be at least 1, not {capacity}")
        self._capacity = capacity
        self._entries: OrderedDict[int, _Entry] = OrderedDict()

    @property
    def capacity(self) -> int:
        return self._capacity

    def same_command(self, correlation_id: int, key: CommandKey) -> bool | None:
        """None when ``correlation_id`` is not in the window; else whether it was applied to the command
        whose key is ``key`` (a resend) rather than to another command (a reuse)."""
        entry = self._entries.get(correlation_id)
        if entry is None:
            return None
        if entry[1] == _RESTORED:
            return bool(entry[2] == key_digest(key))
        return _key_of(entry) == key

    def get(self, correlation_id: int) -> tuple[Event, ...] | None:
        """The events first produced by ``correlation_id``, or None if it is not in the window."""
        entry = self._entries.get(correlation_id)
        return None if entry is None else _events(entry)

    def record(
        self, correlation_id: int, applied_time_ms: int, key: CommandKey, events: tuple[Event, ...]
    ) -> None:
        """Remember a newly applied correlation id, evicting the oldest one when the window is full."""
        values = [applied_time_ms, *key]
        for event in events:  # a loop: cheaper than a comprehension's own call for ~3 events
            values += FREEZERS[type(event)](event)
        entries = self._entries  # ``_put``, inlined: every command is recorded
        entries[correlation_id] = tuple(values)
        if len(entries) > self._capacity:
            entries.popitem(last=False)

    def record_frames(
        self, correlation_id: int, applied_time_ms: int, digest: int, frames: tuple[bytes, ...]
    ) -> None:
        """Remember an entry of a snapshot being restored: its command's digest and its encoded events."""
        self._put(correlation_id, (applied_time_ms, _RESTORED, digest, frames))

    def frames(self) -> Iterator[tuple[int, int, int, tuple[bytes, ...]]]:
        """(correlation id, applied time ms, command digest, encoded events), oldest applied first
        (for snapshots)."""
        for correlation_id, entry in self._entries.items():
            if entry[1] == _RESTORED:
                yield correlation_id, entry[0], entry[2], entry[3]
            else:
                frames = tuple(encode(event) for event in _events(entry))
                yield correlation_id, entry[0], key_digest(_key_of(entry)), frames

    def _put(self, correlation_id: int, entry: _Entry) -> None:
        entries = self._entries
        entries[correlation_id] = entry
        if len(entries) > self._capacity:
            entries.popitem(last=False)

    def __contains__(self, correlation_id: object) -> bool:
        return correlation_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[tuple[int, int, tuple[Event, ...]]]:
        """(correlation id, applied time ms, events), oldest applied first."""
        for correlation_id, entry in self._entries.items():
            yield correlation_id, entry[0], _events(entry)


def _key_of(entry: _Entry) -> CommandKey:
    """The frozen command of an entry applied here."""
    return entry[1 : 1 + FROZEN_LENGTHS[entry[1]]]


def _events(entry: _Entry) -> tuple[Event, ...]:
    """An entry's events as objects: decoded when it came from a snapshot, else thawed."""
    if entry[1] == _RESTORED:
        return tuple(decode(frame) for frame in entry[3])  # type: ignore[misc]
    events: list[Event] = []
    at = 1 + FROZEN_LENGTHS[entry[1]]  # past the command
    while at < len(entry):
        end = at + FROZEN_LENGTHS[entry[at]]
        events.append(thaw(entry[at:end]))
        at = end
    return tuple(events)
