"""Commands with exactly-once effect across leader changes.

Aeron gives at-least-once at best: an offer made while the cluster has no leader is lost although it
reports success, and a reply in flight when a leader dies is lost too. The state machine answers a
command whose correlation id it has already applied with the original outcome and changes nothing, so
the client's half of exactly-once is to keep every command until its outcome arrives and to send it
again, with the same correlation id, whenever it may have been lost: after a new leader, after a
reconnection, and after ``resend_after_s`` without an answer.

Correlation ids must be unique across all gateways of a cluster *and* across restarts of one gateway
(the cluster answers a known id with its original outcome and applies nothing): :class:`CorrelationIds`
builds them as ``gateway_id (16 bits) | epoch (23 bits) | sequence (24 bits)``, where the epoch is a
number the gateway persists and increments at every start (``rfq.gateway.identity``), and a new
epoch is taken whenever a life's sequence runs out.
"""

from __future__ import annotations

import threading
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
EPOCH_BITS = 23
SEQUENCE_BITS = 63 - GATEWAY_ID_BITS - EPOCH_BITS
"""24 bits: 16.7 million commands per epoch before a new epoch is taken."""
MAX_EPOCH = (1 << EPOCH_BITS) - 1
_EVENTS = range(20, 40)
"""Template ids of events (schema/rfq.xml): only an event can be a command's outcome. The records of a
QueryState answer carry no correlation id of their own (an RfqRecord holds the one that created it)."""


class CorrelationIds:
    """Correlation ids of one gateway: ``gateway_id | epoch | sequence``, never repeated.

    ``epoch`` is this life's number (persisted and incremented at every start by the caller);
    ``renew_epoch`` gives a fresh one when the sequence is exhausted (None: raise instead). Thread-safe:
    the gateway core allocates on its event loop and its cluster thread.
    """

    def __init__(self, gateway_id: int, epoch: int = 0, renew_epoch: Callable[[], int] | None = None) -> None:
        if not 0 <= gateway_id < 1 << GATEWAY_ID_BITS:
            raise ValueError(f"gateway id {gateway_id} does not fit {GATEWAY_ID_BITS} bits")
        self.gateway_id = gateway_id
        self._renew_epoch = renew_epoch
        self._lock = threading.Lock()
        self._epoch = self._checked(epoch)
        self._sequence = 0

    @staticmethod
    def _checked(epoch: int) -> int:
        if not 0 <= epoch <= MAX_EPOCH:
            raise ValueError(f"epoch {epoch} does not fit {EPOCH_BITS} bits")
        return epoch

    @property
    def epoch(self) -> int:
        """The epoch of the ids allocated now."""
        return self._epoch

    def next(self) -> int:
        """A correlation id this gateway never used, in this life or an earlier one."""
        with self._lock:
            if self._sequence == (1 << SEQUENCE_BITS) - 1:
                if self._renew_epoch is None:
                    raise OverflowError(f"epoch {self._epoch} has no correlation ids left")
                self._epoch = self._checked(self._renew_epoch())
                self._sequence = 0
            self._sequence += 1
            return (
                self.gateway_id << (EPOCH_BITS + SEQUENCE_BITS)
                | self._epoch << SEQUENCE_BITS
                | self._sequence
            )

    @staticmethod
    def split(correlation_id: int) -> tuple[int, int, int]:
        """``(gateway_id, epoch, sequence)`` of an id made by this class."""
        sequence = correlation_id & ((1 << SEQUENCE_BITS) - 1)
        epoch = (correlation_id >> SEQUENCE_BITS) & MAX_EPOCH
        return correlation_id >> (EPOCH_BITS + SEQUENCE_BITS), epoch, sequence


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
        on_session_change: Callable[[], None] | None = None,
        resend_after_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        epoch: int = 0,
        correlation_ids: CorrelationIds | None = None,
    ) -> None:
        """``epoch``: this life's number (see :class:`CorrelationIds`); or pass ``correlation_ids`` to
        share an allocator. ``on_session_change`` is called (on the polling thread) after a new leader
        or a reconnection: whatever the cluster broadcast meanwhile may have been lost."""
        self.config = config
        self.ids = correlation_ids or CorrelationIds(gateway_id, epoch)
        if self.ids.gateway_id != gateway_id:
            raise ValueError(f"the allocator is gateway {self.ids.gateway_id}'s, not {gateway_id}'s")
        self._on_event = on_event
        self._on_session_change = on_session_change
        self._on_outcome = on_outcome
        self._resend_after_s = resend_after_s
        self._clock = clock
        self._pending: dict[int, _Pending] = {}
        self._unsent: dict[int, None] = {}
        """Pending commands to (re)send, oldest first (an ordered set)."""
        self._in_flight: dict[int, None] = {}
        """Pending commands Aeron accepted, in the order they were offered: the first is the next due
        for a resend. So a poll looks at the commands due, not at every pending one (a gateway that
        fell behind has hundreds)."""
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
        """A correlation id no other gateway of the cluster, nor an earlier life of this one, used."""
        return self.ids.next()

    def submit(self, command: Any) -> int:
        """Send ``command`` (its ``correlation_id`` set) and keep it until its outcome; return that id."""
        correlation_id = int(command.correlation_id)
        self.submit_frame(correlation_id, rfq_sbe.encode(command))
        return correlation_id

    def submit_frame(self, correlation_id: int, frame: bytes) -> None:
        """Send an encoded command whose correlation id is ``correlation_id`` and keep it until its
        outcome. A gateway that kept the frame of a command whose outcome it never heard (it
        restarted) submits the very same bytes again: the cluster answers with the original outcome."""
        if correlation_id in self._pending:
            raise ValueError(f"correlation id {correlation_id} is already waiting for its outcome")
        self._pending[correlation_id] = _Pending(bytes(frame), None)
        self._unsent[correlation_id] = None
        self._send(correlation_id)

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

    def send_keep_alive(self) -> bool:
        """Tell the cluster this session is alive; an idle session must, or the cluster closes it."""
        try:
            return self._client.send_keep_alive()
        except Exception:
            return False

    @property
    def is_connected(self) -> bool:
        """True while the session is open (it may still be between leaders)."""
        return not self._client.is_closed

    def poll(self) -> int:
        """Deliver egress, reconnect if the session was closed, (re)send what needs it; return work done."""
        if self._client.is_closed:
            self._reconnect()
        try:
            work = self._client.poll()
        except ClusterClientError:
            return 0
        now = self._clock()
        due = []
        for correlation_id in self._in_flight:
            sent_at = self._pending[correlation_id].sent_at
            if sent_at is not None and now - sent_at <= self._resend_after_s:
                break  # the others were offered later still
            due.append(correlation_id)
        for correlation_id in due:
            del self._in_flight[correlation_id]
            self._unsent[correlation_id] = None
        self.resends += len(due)
        for correlation_id in list(self._unsent):
            if not self._send(correlation_id):
                break
            work += 1
        return work

    def wait(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for egress, idling in Java (:meth:`ClusterClient.wait`), and
        deliver what arrives; return the frames delivered. :meth:`wake` ends the wait early. Without a
        session (:meth:`poll` reconnects) it sleeps ``timeout_s``."""
        try:
            if not self._client.is_closed:
                return self._client.wait(timeout_s)
        except ClusterClientError:
            pass
        time.sleep(timeout_s)
        return 0

    def wake(self) -> None:
        """End the polling thread's current or next :meth:`wait` (from any thread)."""
        self._client.wake()

    def drain(self, timeout_s: float) -> bool:
        """Poll until no command is pending or ``timeout_s`` passes; True when all were answered."""
        deadline = self._clock() + timeout_s
        while self._pending and self._clock() < deadline:
            if not self.poll():
                time.sleep(0.0005)
        return not self._pending

    # --- internals ----------------------------------------------------------------------------
    def _send(self, correlation_id: int) -> bool:
        """Offer one unsent command; on success it moves to the end of the in-flight ones."""
        pending = self._pending[correlation_id]
        try:
            sent = self._client.offer(pending.frame)
        except ClusterClientError:
            return False
        if sent:
            pending.sent_at = self._clock()
            del self._unsent[correlation_id]
            self._in_flight[correlation_id] = None
        return sent

    def _on_frame(self, frame: memoryview) -> None:
        try:
            event = rfq_sbe.decode(frame)
        except CodecError:
            self.undecodable_frames += 1
            return
        correlation_id: int | None = (
            getattr(event, "correlation_id", None) if event.TEMPLATE_ID in _EVENTS else None
        )
        resolved = correlation_id is not None and self._pending.pop(correlation_id, None) is not None
        if resolved and correlation_id is not None:
            self._unsent.pop(correlation_id, None)
            self._in_flight.pop(correlation_id, None)
            if correlation_id in self._awaited:
                self._awaited[correlation_id] = event
            if self._on_outcome is not None:
                self._on_outcome(correlation_id, event)
        if self._on_event is not None:
            self._on_event(event)

    def _on_new_leader(self, leader_member_id: int) -> None:
        self.leader_changes += 1
        self._mark_all_unsent()
        if self._on_session_change is not None:
            self._on_session_change()

    def _mark_all_unsent(self) -> None:
        for pending in self._pending.values():
            pending.sent_at = None
        self._unsent = dict.fromkeys(sorted(self._pending))  # ids grow with submission: oldest first
        self._in_flight.clear()

    def _reconnect(self) -> None:
        self._client.close()
        try:
            self._client.connect()
        except ClusterClientError:
            return
        self.reconnects += 1
        self._mark_all_unsent()
        if self._on_session_change is not None:
            self._on_session_change()
