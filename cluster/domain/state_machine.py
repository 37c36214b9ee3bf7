"""The RFQ state machine: commands in, events out, deterministic, exactly-once.

Why it is built this way: every cluster node applies the same log to its own copy, so the result may
depend on nothing but the commands, their order and the cluster time the log gives them — no wall
clock, no randomness, no iteration order that could differ between runs. It does no I/O: the adapter
decodes, calls ``apply`` / ``on_timer``, then encodes and sends what comes back.

Contract:
- ``apply(command, cluster_time_ms) -> Outcome``: exactly one outcome per command (``outcome.py``
  says who hears it). A refused command produces one ``CommandRejected`` and changes no state (its
  correlation id is recorded in the dedupe window, so a resend gets the same refusal).
- ``on_timer(rfq_id, cluster_time_ms) -> events`` when an expiry timer fires; broadcast them.
- ``snapshot()`` / ``StateMachine.restore(records, timers)``: see ``snapshot.py``. Restore does NOT
  schedule timers: Aeron's consensus module snapshots and restores its own pending timers.
- The events of a command carry its correlation id (including RFQs canceled by disabling their
  instrument) and ``timestamp_ms = cluster_time_ms``; every RFQ event carries the true requester and
  responder ids.

Validation, checked in this order (the first failing rule is the reason):

===================  ======================================================================
command              rules (→ RejectReason)
===================  ======================================================================
AddInstrument        user id not in 1..2³¹-1, enabled not a BooleanType → INVALID_FIELD;
                     min quantity < 0 → INVALID_QUANTITY; bad CUSIP → INVALID_CUSIP;
                     CUSIP already added → DUPLICATE_INSTRUMENT
EnableInstrument     user id, enabled → INVALID_FIELD; unknown id → UNKNOWN_INSTRUMENT;
                     already in that state → NO_CHANGE
CreateRfq            user id, side not BUY/SELL, clOrdId not ≤ 20 printable ASCII → INVALID_FIELD;
                     quantity ≤ 0 → INVALID_QUANTITY; expiry ≤ now → EXPIRY_NOT_IN_FUTURE;
                     unknown instrument → UNKNOWN_INSTRUMENT; disabled → INSTRUMENT_DISABLED;
                     quantity < minimum → QUANTITY_BELOW_MINIMUM
QuoteRfq             user id → INVALID_FIELD; price ≤ 0 → INVALID_PRICE; RFQ never created →
                     UNKNOWN_RFQ; ended or past its expiry → RFQ_NOT_ACTIVE; quoter is the
                     requester → OWN_RFQ; somebody quoted first → ALREADY_QUOTED
CounterRfq           user id → INVALID_FIELD; price ≤ 0 → INVALID_PRICE; UNKNOWN_RFQ; RFQ_NOT_ACTIVE;
                     neither requester nor responder → NOT_A_PARTY; no price yet →
                     NO_PRICE_TO_ACT_ON; the last price is the user's own → OWN_PRICE
AcceptRfq, RejectRfq as CounterRfq without the price
CancelRfq            user id → INVALID_FIELD; UNKNOWN_RFQ; RFQ_NOT_ACTIVE; not the requester →
                     NOT_REQUESTER
===================  ======================================================================

An RFQ whose expiry time has come is over even if its timer has not been delivered yet (a command can
be sequenced between the deadline and the timer event): nothing acts on it any more, disabling its
instrument leaves it alone, and it ends with ``RfqExpired`` when its timer fires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from rfq.cluster.domain.cusip import is_valid_cusip
from rfq.cluster.domain.dedupe import DEFAULT_DEDUPE_CAPACITY, DedupeWindow
from rfq.cluster.domain.instruments import InstrumentBook
from rfq.cluster.domain.messages import Command, Event, Message, SnapshotRecord
from rfq.cluster.domain.outcome import Audience, Outcome
from rfq.cluster.domain.rfqs import Rfq, RfqBook
from rfq.cluster.domain.snapshot import read_snapshot, write_snapshot
from rfq.cluster.domain.timers import TimerPort
from rfq.codecs.rfq_sbe import (
    AcceptRfq,
    AddInstrument,
    BooleanType,
    CancelReason,
    CancelRfq,
    CommandRejected,
    CounterRfq,
    CreateRfq,
    EnableInstrument,
    InstrumentAdded,
    InstrumentEnabled,
    QuoteRfq,
    RejectReason,
    RejectRfq,
    RfqAccepted,
    RfqCanceled,
    RfqCountered,
    RfqCreated,
    RfqExpired,
    RfqQuoted,
    RfqRejected,
    RfqState,
    Side,
)

INT32_MAX = 2**31 - 1
CL_ORD_ID_LENGTH = 20

_SIDES = (Side.BUY, Side.SELL)
_BOOLEANS = (BooleanType.FALSE, BooleanType.TRUE)
_BROADCAST = Audience.BROADCAST
_SENDER = Audience.SENDER

_Result = tuple[Event, ...] | RejectReason
"""What a rule returns: the events of the change it made, or why it refused (and changed nothing)."""


def _valid_user(user_id: int) -> bool:
    return 0 < user_id <= INT32_MAX


def _valid_cl_ord_id(cl_ord_id: str) -> bool:
    return len(cl_ord_id) <= CL_ORD_ID_LENGTH and cl_ord_id.isascii() and cl_ord_id.isprintable()


class StateMachine:
    """The replicated RFQ state: instruments, active RFQs, id sequences and the dedupe window."""

    __slots__ = ("_dedupe", "_handlers", "_instruments", "_last_time_ms", "_rfqs", "_timers")

    def __init__(self, timers: TimerPort, dedupe_capacity: int = DEFAULT_DEDUPE_CAPACITY) -> None:
        """``dedupe_capacity`` is replicated behaviour: every node of a cluster must use the same value."""
        self._timers = timers
        self._instruments = InstrumentBook()
        self._rfqs = RfqBook()
        self._dedupe = DedupeWindow(dedupe_capacity)
        self._last_time_ms = 0
        handlers: dict[type, Callable[[Any, int], _Result]] = {
            AddInstrument: self._add_instrument,
            EnableInstrument: self._enable_instrument,
            CreateRfq: self._create,
            QuoteRfq: self._quote,
            CounterRfq: self._counter,
            AcceptRfq: self._accept,
            RejectRfq: self._reject,
            CancelRfq: self._cancel,
        }
        self._handlers = handlers

    # ------------------------------------------------------------------ the log

    def apply(self, command: Message, cluster_time_ms: int) -> Outcome:
        """Apply one command at ``cluster_time_ms`` (the log entry's cluster time) and say what happened.

        A duplicate correlation id returns the original events to the sender and changes nothing. A
        message that is not a command (an event or snapshot record sent by mistake) is refused with
        UNKNOWN_TEMPLATE and, having no trustworthy correlation id, is not recorded for dedupe.
        """
        handler = self._handlers.get(type(command))
        if handler is None:
            return Outcome((self._refusal(command, RejectReason.UNKNOWN_TEMPLATE, cluster_time_ms),), _SENDER)
        correlation_id = cast(Command, command).correlation_id
        original = self._dedupe.get(correlation_id)
        if original is not None:
            return Outcome(original, _SENDER, True)
        self._last_time_ms = cluster_time_ms
        result = handler(command, cluster_time_ms)
        if isinstance(result, tuple):
            outcome = Outcome(result, _BROADCAST)
        else:
            outcome = Outcome((self._refusal(command, result, cluster_time_ms),), _SENDER)
        self._dedupe.record(correlation_id, cluster_time_ms, outcome.events)
        return outcome

    def on_timer(self, correlation_id: int, cluster_time_ms: int) -> tuple[Event, ...]:
        """An expiry timer fired: expire RFQ ``correlation_id`` if it is still active. Broadcast the events.

        A timer for an RFQ that has ended is stale and yields nothing. A timer that fires before the
        RFQ's expiry (Aeron never does this) is scheduled again rather than expiring the RFQ early.
        """
        self._last_time_ms = cluster_time_ms
        rfq = self._rfqs.get(correlation_id)
        if rfq is None:
            return ()
        if cluster_time_ms < rfq.expire_time_ms:
            self._timers.schedule(rfq.rfq_id, rfq.expire_time_ms)
            return ()
        rfq.state = RfqState.EXPIRED
        self._rfqs.remove(rfq)
        return (
            RfqExpired(
                rfq_id=rfq.rfq_id,
                requester_user_id=rfq.requester_user_id,
                responder_user_id=rfq.responder_user_id,
                timestamp_ms=cluster_time_ms,
            ),
        )

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> list[SnapshotRecord]:
        """The whole state as snapshot records, in the order ``snapshot.py`` documents."""
        return write_snapshot(self._instruments, self._rfqs, self._dedupe, timestamp_ms=self._last_time_ms)

    @classmethod
    def restore(
        cls,
        records: Iterable[Message],
        timers: TimerPort,
        dedupe_capacity: int = DEFAULT_DEDUPE_CAPACITY,
    ) -> StateMachine:
        """A state machine holding the snapshot ``records``; raises ``SnapshotError`` if they are torn.

        ``records`` are decoded messages as they come from the snapshot (anything but the expected
        record in the expected place is an error).

        No timer is scheduled: the consensus module restores the pending timers itself. Use
        ``active_expiries()`` when a timer port without that guarantee must be primed.
        """
        machine = cls(timers, dedupe_capacity)
        machine._last_time_ms = read_snapshot(records, machine._instruments, machine._rfqs, machine._dedupe)
        return machine

    def active_expiries(self) -> list[tuple[int, int]]:
        """(rfq id, expire time ms) of every active RFQ, ascending rfq id: the timers that should be
        pending (for a timer port that, unlike Aeron's, does not survive a restart)."""
        return [(rfq.rfq_id, rfq.expire_time_ms) for rfq in self._rfqs]

    @property
    def last_time_ms(self) -> int:
        """The cluster time of the last command or timer applied (0 before any): the snapshot's timestamp."""
        return self._last_time_ms

    @property
    def instruments(self) -> InstrumentBook:
        """Read-only view for queries and tests; mutate only through ``apply``."""
        return self._instruments

    @property
    def rfqs(self) -> RfqBook:
        """Read-only view for queries and tests; mutate only through ``apply``."""
        return self._rfqs

    @property
    def dedupe(self) -> DedupeWindow:
        """Read-only view for queries and tests; mutate only through ``apply``."""
        return self._dedupe

    # ------------------------------------------------------------------ rules

    @staticmethod
    def _refusal(command: object, reason: RejectReason, now: int) -> CommandRejected:
        user_id = getattr(command, "user_id", None)
        return CommandRejected(
            correlation_id=getattr(command, "correlation_id", 0),
            user_id=user_id if isinstance(user_id, int) and _valid_user(user_id) else None,
            template_id=getattr(command, "TEMPLATE_ID", 0),
            reason=reason,
            timestamp_ms=now,
        )

    def _add_instrument(self, command: AddInstrument, now: int) -> _Result:
        if not _valid_user(command.user_id) or command.enabled not in _BOOLEANS:
            return RejectReason.INVALID_FIELD
        if command.min_quantity < 0:
            return RejectReason.INVALID_QUANTITY
        if not is_valid_cusip(command.cusip):
            return RejectReason.INVALID_CUSIP
        if self._instruments.has_cusip(command.cusip):
            return RejectReason.DUPLICATE_INSTRUMENT
        instrument = self._instruments.add(
            command.cusip, command.min_quantity, command.enabled == BooleanType.TRUE
        )
        return (
            InstrumentAdded(
                correlation_id=command.correlation_id,
                instrument_id=instrument.instrument_id,
                min_quantity=instrument.min_quantity,
                enabled=BooleanType.TRUE if instrument.enabled else BooleanType.FALSE,
                timestamp_ms=now,
                cusip=instrument.cusip,
            ),
        )

    def _enable_instrument(self, command: EnableInstrument, now: int) -> _Result:
        if not _valid_user(command.user_id) or command.enabled not in _BOOLEANS:
            return RejectReason.INVALID_FIELD
        instrument = self._instruments.get(command.instrument_id)
        if instrument is None:
            return RejectReason.UNKNOWN_INSTRUMENT
        enabled = command.enabled == BooleanType.TRUE
        if instrument.enabled == enabled:
            return RejectReason.NO_CHANGE
        instrument.enabled = enabled
        events: list[Event] = [
            InstrumentEnabled(
                correlation_id=command.correlation_id,
                instrument_id=instrument.instrument_id,
                enabled=BooleanType.TRUE if enabled else BooleanType.FALSE,
                timestamp_ms=now,
            )
        ]
        if not enabled:
            for rfq in self._rfqs.for_instrument(instrument.instrument_id):
                if rfq.expire_time_ms <= now:
                    continue  # already over: its pending timer ends it with RfqExpired
                self._end(rfq, RfqState.CANCELED)
                events.append(
                    RfqCanceled(
                        correlation_id=command.correlation_id,
                        rfq_id=rfq.rfq_id,
                        requester_user_id=rfq.requester_user_id,
                        responder_user_id=rfq.responder_user_id,
                        reason=CancelReason.INSTRUMENT_DISABLED,
                        timestamp_ms=now,
                    )
                )
        return tuple(events)

    def _create(self, command: CreateRfq, now: int) -> _Result:
        if (
            not _valid_user(command.user_id)
            or command.side not in _SIDES
            or not _valid_cl_ord_id(command.cl_ord_id)
        ):
            return RejectReason.INVALID_FIELD
        quantity = command.quantity
        if quantity <= 0:
            return RejectReason.INVALID_QUANTITY
        expire_time_ms = command.expire_time_ms
        if expire_time_ms <= now:
            return RejectReason.EXPIRY_NOT_IN_FUTURE
        instrument = self._instruments.get(command.instrument_id)
        if instrument is None:
            return RejectReason.UNKNOWN_INSTRUMENT
        if not instrument.enabled:
            return RejectReason.INSTRUMENT_DISABLED
        if quantity < instrument.min_quantity:
            return RejectReason.QUANTITY_BELOW_MINIMUM
        rfqs = self._rfqs
        rfq = Rfq(
            rfq_id=rfqs.next_id(),
            correlation_id=command.correlation_id,
            requester_user_id=command.user_id,
            instrument_id=command.instrument_id,
            side=command.side,
            quantity=quantity,
            expire_time_ms=expire_time_ms,
            created_time_ms=now,
            cl_ord_id=command.cl_ord_id,
        )
        rfqs.put(rfq)
        self._timers.schedule(rfq.rfq_id, expire_time_ms)
        return (
            RfqCreated(
                correlation_id=command.correlation_id,
                rfq_id=rfq.rfq_id,
                requester_user_id=rfq.requester_user_id,
                instrument_id=rfq.instrument_id,
                side=rfq.side,
                quantity=quantity,
                expire_time_ms=expire_time_ms,
                timestamp_ms=now,
                cl_ord_id=rfq.cl_ord_id,
            ),
        )

    def _live_rfq(self, rfq_id: int, now: int) -> Rfq | RejectReason:
        """The RFQ a command acts on, or why there is none to act on."""
        rfq = self._rfqs.get(rfq_id)
        if rfq is None:
            return RejectReason.RFQ_NOT_ACTIVE if self._rfqs.existed(rfq_id) else RejectReason.UNKNOWN_RFQ
        if rfq.expire_time_ms <= now:
            return RejectReason.RFQ_NOT_ACTIVE
        return rfq

    def _quote(self, command: QuoteRfq, now: int) -> _Result:
        user_id = command.user_id
        if not _valid_user(user_id):
            return RejectReason.INVALID_FIELD
        if command.price <= 0:
            return RejectReason.INVALID_PRICE
        rfq = self._live_rfq(command.rfq_id, now)
        if isinstance(rfq, RejectReason):
            return rfq
        if user_id == rfq.requester_user_id:
            return RejectReason.OWN_RFQ
        if rfq.responder_user_id is not None:
            return RejectReason.ALREADY_QUOTED
        rfq.state = RfqState.QUOTED
        rfq.responder_user_id = user_id
        rfq.last_price_user_id = user_id
        rfq.price = command.price
        return (
            RfqQuoted(
                correlation_id=command.correlation_id,
                rfq_id=rfq.rfq_id,
                requester_user_id=rfq.requester_user_id,
                responder_user_id=user_id,
                price=command.price,
                timestamp_ms=now,
            ),
        )

    def _party_rfq(self, user_id: int, rfq_id: int, now: int) -> tuple[Rfq, int, int] | RejectReason:
        """(RFQ, responder, price on the table) where ``user_id`` answers the other party's last price,
        or why it cannot."""
        rfq = self._live_rfq(rfq_id, now)
        if isinstance(rfq, RejectReason):
            return rfq
        responder, price = rfq.responder_user_id, rfq.price
        if user_id not in (rfq.requester_user_id, responder):
            return RejectReason.NOT_A_PARTY
        if price is None or responder is None:
            return RejectReason.NO_PRICE_TO_ACT_ON
        if user_id == rfq.last_price_user_id:
            return RejectReason.OWN_PRICE
        return rfq, responder, price

    def _counter(self, command: CounterRfq, now: int) -> _Result:
        user_id = command.user_id
        if not _valid_user(user_id):
            return RejectReason.INVALID_FIELD
        if command.price <= 0:
            return RejectReason.INVALID_PRICE
        found = self._party_rfq(user_id, command.rfq_id, now)
        if isinstance(found, RejectReason):
            return found
        rfq, responder, _ = found
        rfq.state = RfqState.COUNTERED
        rfq.last_price_user_id = user_id
        rfq.price = command.price
        return (
            RfqCountered(
                correlation_id=command.correlation_id,
                rfq_id=rfq.rfq_id,
                requester_user_id=rfq.requester_user_id,
                responder_user_id=responder,
                countered_by_user_id=user_id,
                price=command.price,
                timestamp_ms=now,
            ),
        )

    def _accept(self, command: AcceptRfq, now: int) -> _Result:
        user_id = command.user_id
        if not _valid_user(user_id):
            return RejectReason.INVALID_FIELD
        found = self._party_rfq(user_id, command.rfq_id, now)
        if isinstance(found, RejectReason):
            return found
        rfq, responder, price = found
        self._end(rfq, RfqState.ACCEPTED)
        requester = rfq.requester_user_id
        buyer, seller = (requester, responder) if rfq.side == Side.BUY else (responder, requester)
        return (
            RfqAccepted(
                correlation_id=command.correlation_id,
                rfq_id=rfq.rfq_id,
                requester_user_id=requester,
                responder_user_id=responder,
                accepted_by_user_id=user_id,
                buyer_user_id=buyer,
                seller_user_id=seller,
                instrument_id=rfq.instrument_id,
                price=price,
                quantity=rfq.quantity,
                timestamp_ms=now,
            ),
        )

    def _reject(self, command: RejectRfq, now: int) -> _Result:
        user_id = command.user_id
        if not _valid_user(user_id):
            return RejectReason.INVALID_FIELD
        found = self._party_rfq(user_id, command.rfq_id, now)
        if isinstance(found, RejectReason):
            return found
        rfq, responder, _ = found
        self._end(rfq, RfqState.REJECTED)
        return (
            RfqRejected(
                correlation_id=command.correlation_id,
                rfq_id=rfq.rfq_id,
                requester_user_id=rfq.requester_user_id,
                responder_user_id=responder,
                rejected_by_user_id=user_id,
                timestamp_ms=now,
            ),
        )

    def _cancel(self, command: CancelRfq, now: int) -> _Result:
        if not _valid_user(command.user_id):
            return RejectReason.INVALID_FIELD
        rfq = self._live_rfq(command.rfq_id, now)
        if isinstance(rfq, RejectReason):
            return rfq
        if command.user_id != rfq.requester_user_id:
            return RejectReason.NOT_REQUESTER
        self._end(rfq, RfqState.CANCELED)
        return (
            RfqCanceled(
                correlation_id=command.correlation_id,
                rfq_id=rfq.rfq_id,
                requester_user_id=rfq.requester_user_id,
                responder_user_id=rfq.responder_user_id,
                reason=CancelReason.REQUESTER,
                timestamp_ms=now,
            ),
        )

    def _end(self, rfq: Rfq, state: RfqState) -> None:
        """Move an RFQ to a terminal state by a command: out of the book, its timer withdrawn."""
        rfq.state = state
        self._rfqs.remove(rfq)
        self._timers.cancel(rfq.rfq_id)
