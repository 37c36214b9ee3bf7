"""Test support: a cluster in a Python object, for gateway tests that need no JVM.

:class:`FakeCluster` hosts the real, pure state machine (``rfq.cluster.domain``) behind transports that
behave like :class:`rfq.gateway.command_client.CommandClient` sessions: frames go in encoded, events
come out decoded from their encoded bytes, broadcasts reach every session and replies the sender only,
outcomes are resent until answered. It can *hold* commands (an election: nothing is answered until
``release()``) and *lose* broadcasts to a session (what a leader change can do).

Only for tests: the real gateway talks to Aeron Cluster.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rfq.cluster.domain import Audience, NullTimers, StateMachine
from rfq.codecs import rfq_sbe
from rfq.gateway.command_client import CorrelationIds
from rfq.gateway.core import Transport


class FakeCluster:
    """One state machine; any number of sessions."""

    def __init__(self) -> None:
        self.machine = StateMachine(NullTimers())
        self._lock = threading.Lock()
        self._sessions: list[FakeSession] = []
        self._last_ms = 0
        self.holding = False
        self.commands = 0

    def now_ms(self) -> int:
        """Cluster time: the wall clock, never going back."""
        self._last_ms = max(self._last_ms, int(time.time() * 1000))
        return self._last_ms

    def transport_factory(
        self,
    ) -> Callable[[Callable[[Any], None], Callable[[], None], CorrelationIds], Transport]:
        def make(
            on_event: Callable[[Any], None], on_session_change: Callable[[], None], ids: CorrelationIds
        ) -> Transport:
            return FakeSession(self, on_event, on_session_change)

        return make

    def hold(self) -> None:
        """Answer nothing (commands wait, as during an election)."""
        self.holding = True

    def release(self) -> None:
        self.holding = False

    def new_leader(self) -> None:
        """Every session hears of a new leader (and may have lost broadcasts)."""
        with self._lock:
            for session in self._sessions:
                session.leader_changed = True

    def apply(self, frame: bytes, sender: FakeSession | None) -> None:
        """Apply one command frame now and deliver its outcome as the service would."""
        with self._lock:
            self.commands += 1
            outcome = self.machine.apply(rfq_sbe.decode(frame), self.now_ms())
            frames = [rfq_sbe.encode(event) for event in outcome.events]
            targets = (
                [s for s in self._sessions if s.connected]
                if outcome.audience is Audience.BROADCAST
                else [sender]
                if sender
                else []
            )
            for session in targets:
                if session.deaf:
                    continue
                session.inbound.extend(frames)

    def _join(self, session: FakeSession) -> None:
        with self._lock:
            self._sessions.append(session)

    def _leave(self, session: FakeSession) -> None:
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)


class FakeSession:
    """A transport for the gateway core (the CommandClient contract, minus Aeron)."""

    def __init__(
        self, cluster: FakeCluster, on_event: Callable[[Any], None], on_session_change: Callable[[], None]
    ) -> None:
        self.cluster = cluster
        self._on_event = on_event
        self._on_session_change = on_session_change
        self.connected = False
        self.deaf = False
        """True: broadcasts and replies to this session are lost (until a new leader)."""
        self.leader_changed = False
        self.inbound: list[bytes] = []
        self._pending: dict[int, bytes] = {}
        self._unsent: list[int] = []
        self._woken = threading.Event()

    def connect(self, wait_s: float = 0.0) -> FakeSession:
        self.connected = True
        self.cluster._join(self)
        return self

    def close(self) -> None:
        self.connected = False
        self.cluster._leave(self)

    def submit_frame(self, correlation_id: int, frame: bytes) -> None:
        if correlation_id in self._pending:
            raise ValueError(f"{correlation_id} is pending")
        self._pending[correlation_id] = frame
        self._unsent.append(correlation_id)

    def poll(self) -> int:
        work = 0
        if self.leader_changed:
            self.leader_changed = False
            self.deaf = False
            self._unsent = list(self._pending)
            self._on_session_change()
        if not self.cluster.holding:
            unsent, self._unsent = self._unsent, []
            for correlation_id in unsent:
                if correlation_id in self._pending:
                    self.cluster.apply(self._pending[correlation_id], self)
                    work += 1
        with self.cluster._lock:
            inbound, self.inbound = self.inbound, []
        for frame in inbound:
            event = rfq_sbe.decode(frame)
            if 20 <= event.TEMPLATE_ID < 40:
                answered = getattr(event, "correlation_id", None)
                if answered is not None:
                    self._pending.pop(answered, None)
            self._on_event(event)
            work += 1
        return work

    def wait(self, timeout_s: float) -> int:
        self._woken.wait(timeout_s)
        self._woken.clear()
        return 0

    def wake(self) -> None:
        self._woken.set()

    def send_keep_alive(self) -> bool:
        return True

    @property
    def is_connected(self) -> bool:
        return self.connected

    @property
    def leader_member_id(self) -> int:
        return 0 if self.connected else -1
