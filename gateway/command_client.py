"""Commands with exactly-once effect across leader changes.

Aeron gives at-least-once at best: an offer made while the cluster has no leader is lost although it
reports success, and a reply in flight when a leader dies is lost too. The state machine answers a
command whose correlation id it has already applied with the original outcome and changes nothing, so
the client's half of exactly-once is to keep every command until its outcome arrives and to send it
again, with the same correlation id, whenever it may have been lost: after a new leader, after a
reconnection, and after ``resend_after_s`` without an answer.

Correlation ids must be unique across all gateways of a cluster: this client puts its ``gateway_id``
in the top 16 bits and a sequence below.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rfq.codecs import rfq_sbe
from rfq.codecs.errors import CodecError
from rfq.gateway.cluster_client import ClientConfig, ClusterClient, ClusterClientError

EventHandler = Callable[[Any], None]
OutcomeHandler = Callable[[int, Any], None]

GATEWAY_ID_BITS = 16
SEQUENCE_BITS = 63 - GATEWAY_ID_BITS


@dataclass
class _Pending:
    frame: bytes
    sent_at: float | None
    """Monotonic time of the last offer that Aeron accepted; None when it must be (re)sent."""


class CommandClient:
    """A cluster session that tracks each command until its outcome (the first event naming it)."""

    def __init__(
        self,
        config: ClientConfig,
        gateway_id: int,
        *,
        on_event: EventHandler | None = None,
        on_outcome: OutcomeHandler | None = None,
        resend_after_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= gateway_id < 1 << GATEWAY_ID_BITS:
            raise ValueError(f"gateway id {gateway_id} does not fit {GATEWAY_ID_BITS} bits")
        self.config = config
        self._prefix = gateway_id << SEQUENCE_BITS
        self._sequence = 0
        self._on_event = on_event
        self._on_outcome = on_outcome
        self._resend_after_s = resend_after_s
        self._clock = clock
        self._pending: dict[int, _Pending] = {}
        self._awaited: dict[int, Any] = {}
        """Outcomes for :meth:`request` callers: correlation id → None until the outcome arrives."""
        self._client = ClusterClient(config, self._on_frame, self._on_new_leader)
        self.leader_changes = 0
        self.reconnects = 0
        self.resends = 0
        self.undecodable_frames = 0

    # --- lifecycle ----------------------------------------------------------------------------
    def connect(self, wait_s: float = 0.0) -> CommandClient:
        """Open the session; keep trying for ``wait_s`` seconds while the cluster is not ready yet."""
        deadline = self._clock() + wait_s
        while True:
            try:
                self._client.connect()
                return self
            except ClusterClientError:
                if self._clock() >= deadline:
                    raise
                time.sleep(0.5)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CommandClient:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- commands -----------------------------------------------------------------------------
    def next_correlation_id(self) -> int:
        """A correlation id no other gateway of the cluster will use."""
        self._sequence += 1
        return self._prefix | self._sequence

    def submit(self, command: Any) -> int:
        """Send ``command`` (its ``correlation_id`` set) and keep it until its outcome; return that id."""
        correlation_id = int(command.correlation_id)
        if correlation_id in self._pending:
            raise ValueError(f"correlation id {correlation_id} is already waiting for its outcome")
        pending = _Pending(rfq_sbe.encode(command), None)
        self._pending[correlation_id] = pending
        self._send(pending)
        return correlation_id

    def request(self, command: Any, timeout_s: float = 30.0) -> Any:
        """Submit ``command`` and poll until its outcome (the first event naming it) arrives; return it.

        Raises ``TimeoutError`` if none arrives in ``timeout_s`` (the command stays pending and will
        still be resent).
        """
        correlation_id = int(command.correlation_id)
        self._awaited[correlation_id] = None
        try:
            self.submit(command)
            deadline = self._clock() + timeout_s
            while self._awaited[correlation_id] is None:
                if self._clock() > deadline:
                    raise TimeoutError(f"no outcome for command {correlation_id} in {timeout_s} s")
                if not self.poll():
                    time.sleep(0.0002)
            return self._awaited[correlation_id]
        finally:
            self._awaited.pop(correlation_id, None)

    @property
    def pending(self) -> int:
        """Commands whose outcome has not arrived yet."""
        return len(self._pending)

    @property
    def leader_member_id(self) -> int:
        return self._client.leader_member_id

    def poll(self) -> int:
        """Deliver egress, reconnect if the session was closed, (re)send what needs it; return work done."""
        if self._client.is_closed:
            self._reconnect()
        try:
            work = self._client.poll()
        except ClusterClientError:
            return 0
        now = self._clock()
        for pending in self._pending.values():
            if pending.sent_at is None or now - pending.sent_at > self._resend_after_s:
                if pending.sent_at is not None:
                    self.resends += 1
                if not self._send(pending):
                    break
                work += 1
        return work

    def drain(self, timeout_s: float) -> bool:
        """Poll until no command is pending or ``timeout_s`` passes; True when all were answered."""
        deadline = self._clock() + timeout_s
        while self._pending and self._clock() < deadline:
            if not self.poll():
                time.sleep(0.0005)
        return not self._pending

    # --- internals ----------------------------------------------------------------------------
    def _send(self, pending: _Pending) -> bool:
        try:
            sent = self._client.offer(pending.frame)
        except ClusterClientError:
            return False
        pending.sent_at = self._clock() if sent else None
        return sent

    def _on_frame(self, frame: memoryview) -> None:
        try:
            event = rfq_sbe.decode(frame)
        except CodecError:
            self.undecodable_frames += 1
            return
        correlation_id: int | None = getattr(event, "correlation_id", None)
        resolved = correlation_id is not None and self._pending.pop(correlation_id, None) is not None
        if resolved and correlation_id is not None:
            if correlation_id in self._awaited:
                self._awaited[correlation_id] = event
            if self._on_outcome is not None:
                self._on_outcome(correlation_id, event)
        if self._on_event is not None:
            self._on_event(event)

    def _on_new_leader(self, leader_member_id: int) -> None:
        self.leader_changes += 1
        self._mark_all_unsent()

    def _mark_all_unsent(self) -> None:
        for pending in self._pending.values():
            pending.sent_at = None

    def _reconnect(self) -> None:
        self._client.close()
        try:
            self._client.connect()
        except ClusterClientError:
            return
        self.reconnects += 1
        self._mark_all_unsent()
