"""Per-user event logs with resumable ids: what an SSE stream replays, and when it needs a snapshot.

Why: a client that loses its stream reconnects with the id of the last event it received
(``Last-Event-ID``) and must get everything it missed or, if the gateway no longer has it, a
snapshot of what it may see now followed by live events — never a silent gap.

Contract:
- Every entry gets the next number of one gateway-wide sequence (``seq``), so ids order events across
  users and a stream merges its user's entries with the entries addressed to everyone.
- An event id is ``"<epoch>-<seq>"``: ``epoch`` is the gateway's start epoch (incremented at every
  start, ``rfq.gateway.identity``), so an id from an earlier life of the gateway is recognised and
  answered with a snapshot instead of being compared with this life's numbers.
- :meth:`StreamLog.read` returns the entries after a cursor, or raises :class:`GapError` when some entry the
  user should have had after that cursor is gone: dropped from a bounded log, or behind a *barrier*
  (the gateway found it may have missed cluster events and resynchronised). The caller then sends a
  snapshot whose id is :attr:`StreamLog.seq` at that moment.
- Logs are bounded per user (``capacity``) and for broadcasts: memory never grows with time.
- Single-threaded: used on the gateway's event loop only; waiters are ``asyncio.Event`` objects set
  when an entry for their user (or everyone) is appended.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

DEFAULT_CAPACITY = 1_000
"""Entries kept per user (and for broadcasts)."""


Data = str | Callable[[], str]
"""An entry's JSON, or how to render it: rendered at the first read, once (most entries, those of users
with no stream open, are never read; rendering each at append was a quarter of a create's CPU)."""


class Entry:
    """One event as a stream sends it: ``event`` is the SSE event name, ``data`` its JSON."""

    __slots__ = ("_data", "event", "seq")

    def __init__(self, seq: int, event: str, data: Data) -> None:
        self.seq = seq
        self.event = event
        self._data = data

    @property
    def data(self) -> str:
        data = self._data
        if not isinstance(data, str):
            data = self._data = data()
        return data

    def __repr__(self) -> str:
        return f"Entry({self.seq}, {self.event!r})"


class GapError(Exception):
    """The log cannot replay everything after the cursor: the reader must send a snapshot."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        """``resume_gap`` (the events are gone, or the cursor is not this life's) or ``resync``."""


class _Log:
    __slots__ = ("entries", "horizon")

    def __init__(self, capacity: int) -> None:
        self.entries: deque[Entry] = deque(maxlen=capacity)
        self.horizon = 0
        """A cursor below this has lost entries (dropped: ``resume_gap``)."""


class StreamLog:
    """The logs of every user of one gateway life."""

    def __init__(self, epoch: int, capacity: int = DEFAULT_CAPACITY) -> None:
        self.epoch = epoch
        self.seq = 0
        """The last number handed out; a snapshot taken now is as of this number."""
        self._capacity = capacity
        self._users: dict[int, _Log] = {}
        self._everyone = _Log(capacity)
        self._barriers: dict[int, int] = {}
        self._barrier_all = 0
        self._waiters: dict[int, set[asyncio.Event]] = {}

    # --- ids ------------------------------------------------------------------------------------
    def event_id(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    def cursor(self, last_event_id: str | None) -> int | None:
        """The ``seq`` a ``Last-Event-ID`` names in this life; None when absent, malformed, from
        another life of the gateway, or from the future (all of which call for a snapshot)."""
        if not last_event_id:
            return None
        epoch, _, seq = last_event_id.strip().partition("-")
        if not (epoch.isdigit() and seq.isdigit()) or int(epoch) != self.epoch:
            return None
        cursor = int(seq)
        return cursor if cursor <= self.seq else None

    # --- writing --------------------------------------------------------------------------------
    def append(self, user_id: int | None, event: str, data: Data) -> Entry:
        """Log an event for ``user_id`` (None: for everyone) and wake its readers; ``data`` may be a
        function that renders it (called at most once, at the first read of the entry)."""
        self.seq += 1
        entry = Entry(self.seq, event, data)
        log = self._everyone if user_id is None else self._log(user_id)
        if len(log.entries) == log.entries.maxlen:
            log.horizon = log.entries[0].seq
        log.entries.append(entry)
        self._wake(user_id)
        return entry

    def barrier(self, user_id: int | None = None) -> None:
        """Say that ``user_id`` (None: everyone) may have missed events: readers behind this point
        get a snapshot (``resync``)."""
        self.seq += 1
        if user_id is None:
            self._barrier_all = self.seq
        else:
            self._barriers[user_id] = self.seq
        self._wake(user_id)

    # --- reading --------------------------------------------------------------------------------
    def read(self, user_id: int, cursor: int) -> list[Entry]:
        """The entries for ``user_id`` after ``cursor``, in order; raises :class:`GapError`."""
        if cursor > self.seq:
            raise GapError("resume_gap")
        if cursor < max(self._barriers.get(user_id, 0), self._barrier_all):
            raise GapError("resync")
        own = self._users.get(user_id)
        if cursor < max(own.horizon if own else 0, self._everyone.horizon):
            raise GapError("resume_gap")
        found = _after(self._everyone.entries, cursor)
        if own is not None:
            found.extend(_after(own.entries, cursor))
            found.sort(key=lambda entry: entry.seq)
        return found

    def subscribe(self, user_id: int) -> asyncio.Event:
        """An event set whenever something is logged for ``user_id`` or everyone (or a barrier)."""
        waiter = asyncio.Event()
        self._waiters.setdefault(user_id, set()).add(waiter)
        return waiter

    def unsubscribe(self, user_id: int, waiter: asyncio.Event) -> None:
        waiters = self._waiters.get(user_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[user_id]

    @property
    def subscribers(self) -> int:
        return sum(len(waiters) for waiters in self._waiters.values())

    # --- internals ------------------------------------------------------------------------------
    def _log(self, user_id: int) -> _Log:
        log = self._users.get(user_id)
        if log is None:
            log = self._users[user_id] = _Log(self._capacity)
        return log

    def _wake(self, user_id: int | None) -> None:
        if user_id is None:
            for waiters in self._waiters.values():
                for waiter in waiters:
                    waiter.set()
        else:
            for waiter in self._waiters.get(user_id, ()):
                waiter.set()


def _after(entries: deque[Entry], cursor: int) -> list[Entry]:
    found: list[Entry] = []
    for entry in reversed(entries):
        if entry.seq <= cursor:
            break
        found.append(entry)
    found.reverse()
    return found
