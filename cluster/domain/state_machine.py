"""The RFQ state machine: commands in, addressed events out, deterministic, exactly-once.

Why it is built this way: every cluster node applies the same log to its own copy, so the result may
depend on nothing but the commands, their order and the cluster time the log gives them — no wall
clock, no randomness, no iteration order that could differ between runs. It does no I/O: the adapter
decodes, calls ``apply`` / ``on_timer``, then encodes and sends what comes back.

The model, the events each command produces (one copy per recipient, in a fixed order) and the
validation rules with their precedence are specified in ``docs/state-machine.md``; this module is
written from it, and ``tests/property`` checks it against an independent reference model of it.

Contract:
- ``apply(command, cluster_time_ms) -> Outcome``: exactly one outcome per command (``outcome.py``
  says who hears it). A refused command produces one ``CommandRejected`` and changes no state (its
  correlation id is recorded in the dedupe window, so a resend gets the same refusal).
- ``on_timer(rfq_id, cluster_time_ms) -> events`` when an expiry timer fires; broadcast them.
- ``snapshot()`` / ``StateMachine.restore(records, timers)``: see ``snapshot.py``. Restore does NOT
  schedule timers: Aeron's consensus module snapshots and restores its own pending timers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rfq.cluster.domain.cusip import is_valid_cusip
from rfq.cluster.domain.dedupe import DEFAULT_DEDUPE_CAPACITY, CommandKey, DedupeWindow
from rfq.cluster.domain.frozen import FREEZERS
from rfq.cluster.domain.instruments import InstrumentBook
from rfq.cluster.domain.messages import Event, Message, Reply, SnapshotRecord
from rfq.cluster.domain.outcome import Audience, Outcome
from rfq.cluster.domain.rfqs import (
    DEFAULT_ENDED_CAPACITY,
    MAX_DEALERS,
    QUOTING_STATES,
    Dealer,
    Rfq,
    RfqBook,
)
from rfq.cluster.domain.snapshot import instrument_record, read_snapshot, rfq_record, write_snapshot
from rfq.cluster.domain.timers import TimerPort
from rfq.codecs.rfq_sbe import (
    AcceptCounter,
    AcceptQuote,
    AddInstrument,
    BooleanType,
    CancelRfq,
    CommandRejected,
    CounterQuote,
    CreateRfq,
    DealerState,
    EnableInstrument,
    EndReason,
    PassRfq,
    QueryState,
    RejectReason,
    Side,
    StateQueried,
    SubmitQuote,
    TradeKind,
    WithdrawQuote,
    make_command_rejected,
    make_dealer_passed,
    make_instrument_added,
    make_instrument_enabled,
    make_quote_countered,
    make_quote_submitted,
    make_quote_withdrawn,
    make_rfq_created,
    make_rfq_created_dealers,
    make_rfq_ended,
    make_rfq_invited,
    make_rfq_traded,
)

# Events are built with the codec's ``make_<event>`` functions rather than by calling their classes:
# the same keywords and objects, ~0.25 µs instead of ~0.8 µs each (a class called with keywords gets
# them as a dict), and a command produces ~3 events.

INT32_MAX = 2**31 - 1
CL_ORD_ID_LENGTH = 20

_SIDES = (Side.BUY, Side.SELL)
_BUY = Side.BUY
# Enum members read on every command: module constants, because a class attribute lookup on an Enum
# costs ~0.1 µs in CPython 3.11.
_QUOTED, _WITHDRAWN, _PASSED = DealerState.QUOTED, DealerState.WITHDRAWN, DealerState.PASSED
_BOOLEANS = (BooleanType.FALSE, BooleanType.TRUE)
_DONE_AWAY, _TRADED = EndReason.DONE_AWAY, EndReason.TRADED
_BROADCAST = Audience.BROADCAST
_SENDER = Audience.SENDER
_ENDED_REFUSAL = {EndReason.TRADED: RejectReason.ALREADY_TRADED, EndReason.EXPIRED: RejectReason.RFQ_EXPIRED}
"""How a command on an RFQ that ended is refused; any other ending is RFQ_NOT_ACTIVE."""

_Result = tuple[Event, ...] | RejectReason
"""What a rule returns: the events of the change it made, or why it refused (and changed nothing)."""


def _valid_user(user_id: int) -> bool:
    return 0 < user_id <= INT32_MAX


def _valid_cl_ord_id(cl_ord_id: str) -> bool:
    return len(cl_ord_id) <= CL_ORD_ID_LENGTH and cl_ord_id.isascii() and cl_ord_id.isprintable()


class StateMachine:
    """The replicated RFQ state: instruments, active RFQs, id sequences and the dedupe window."""

    __slots__ = ("_dedupe", "_handlers", "_instruments", "_last_time_ms", "_rfqs", "_timers")

    def __init__(
        self,
        timers: TimerPort,
        dedupe_capacity: int = DEFAULT_DEDUPE_CAPACITY,
        ended_capacity: int = DEFAULT_ENDED_CAPACITY,
    ) -> None:
        """The capacities are replicated behaviour: every node of a cluster must use the same values."""
        self._timers = timers
        self._instruments = InstrumentBook()
        self._rfqs = RfqBook(ended_capacity)
        self._dedupe = DedupeWindow(dedupe_capacity)
        self._last_time_ms = 0
        handlers: dict[type, Callable[[Any, int], _Result]] = {
            AddInstrument: self._add_instrument,
            EnableInstrument: self._enable_instrument,
            CreateRfq: self._create,
            SubmitQuote: self._quote,
            WithdrawQuote: self._withdraw,
            PassRfq: self._pass,
            CounterQuote: self._counter,
            AcceptQuote: self._accept_quote,
            AcceptCounter: self._accept_counter,
            CancelRfq: self._cancel,
        }
        self._handlers = handlers

    # ------------------------------------------------------------------ the log

    def apply(self, command: Message, cluster_time_ms: int) -> Outcome:
        """Apply one command at ``cluster_time_ms`` (the log entry's cluster time) and say what happened.

        A resend (correlation id already applied to the same command) returns the original events to
        the sender and changes nothing; the same id with another command is refused with
        CORRELATION_ID_REUSED and not recorded. A ``QueryState`` is answered to its sender and not
        recorded (it changes nothing, so a resend may simply be answered again). A message that is not
        a command is refused with UNKNOWN_TEMPLATE and, having no trustworthy correlation id, is not
        recorded either.
        """
        handler = self._handlers.get(type(command))
        if handler is None:
            if type(command) is QueryState:
                return self._query(command, cluster_time_ms)
            return Outcome((self._refusal(command, RejectReason.UNKNOWN_TEMPLATE, cluster_time_ms),), _SENDER)
        # ``command`` has a handler, so it is a Command and has a correlation id. (No ``typing.cast``
        # on this path: it is a function call at run time.)
        correlation_id: int = command.correlation_id  # type: ignore[union-attr, assignment]
        key = FREEZERS[type(command)](command)  # ``command_key``, one call less
        dedupe = self._dedupe
        if correlation_id in dedupe:
            return self._applied_before(command, correlation_id, key, cluster_time_ms)
        self._last_time_ms = cluster_time_ms
        result = handler(command, cluster_time_ms)
        if type(result) is tuple:
            events: tuple[Event, ...] = result
            audience = _BROADCAST
        else:
            events = (self._refusal(command, result, cluster_time_ms),)  # type: ignore[arg-type]
            audience = _SENDER
        dedupe.record(correlation_id, cluster_time_ms, key, events)
        return Outcome(events, audience)

    def _applied_before(self, command: Message, correlation_id: int, key: CommandKey, now: int) -> Outcome:
        """A correlation id already in the window: the original events again if ``command`` is a resend
        of the command it was applied to, else CORRELATION_ID_REUSED (not recorded)."""
        dedupe = self._dedupe
        if dedupe.same_command(correlation_id, key):
            events: tuple[Event, ...] = dedupe.get(correlation_id)  # type: ignore[assignment]  # in it
            return Outcome(events, _SENDER, True)
        return Outcome((self._refusal(command, RejectReason.CORRELATION_ID_REUSED, now),), _SENDER)

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
        self._rfqs.end(rfq, EndReason.EXPIRED)
        return self._ended_events(rfq, EndReason.EXPIRED, None, cluster_time_ms)

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
        ended_capacity: int = DEFAULT_ENDED_CAPACITY,
    ) -> StateMachine:
        """A state machine holding the snapshot ``records``; raises ``SnapshotError`` if they are torn.

        ``records`` are decoded messages as they come from the snapshot (anything but the expected
        record in the expected place is an error).

        No timer is scheduled: the consensus module restores the pending timers itself. Use
        ``active_expiries()`` when a timer port without that guarantee must be primed.
        """
        machine = cls(timers, dedupe_capacity, ended_capacity)
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

    # ------------------------------------------------------------------ queries

    def _query(self, command: QueryState, now: int) -> Outcome:
        if not _valid_user(command.user_id):
            return Outcome((self._refusal(command, RejectReason.INVALID_FIELD, now),), _SENDER)
        replies: list[Reply] = [instrument_record(instrument) for instrument in self._instruments]
        replies.extend(rfq_record(rfq) for rfq in self._rfqs)
        replies.append(
            StateQueried(
                correlation_id=command.correlation_id,
                instrument_count=len(self._instruments),
                rfq_count=len(self._rfqs),
                next_rfq_id=self._rfqs.next_rfq_id,
                timestamp_ms=now,
            )
        )
        return Outcome(tuple(replies), _SENDER)

    # ------------------------------------------------------------------ instruments

    @staticmethod
    def _refusal(command: object, reason: RejectReason, now: int) -> CommandRejected:
        user_id = getattr(command, "user_id", None)
        return make_command_rejected(
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
            make_instrument_added(
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
            make_instrument_enabled(
                correlation_id=command.correlation_id,
                instrument_id=instrument.instrument_id,
                enabled=BooleanType.TRUE if enabled else BooleanType.FALSE,
                timestamp_ms=now,
            )
        ]
        if not enabled:
            for rfq in self._rfqs.for_instrument(instrument.instrument_id):
                if rfq.expire_time_ms <= now:
                    continue  # already over: its pending timer ends it with RfqEnded(EXPIRED)
                self._end(rfq, EndReason.INSTRUMENT_DISABLED)
                events.extend(self._ended_events(rfq, EndReason.INSTRUMENT_DISABLED, None, now))
        return tuple(events)

    # ------------------------------------------------------------------ the requester

    def _create(self, command: CreateRfq, now: int) -> _Result:
        requester = command.user_id
        dealer_ids = [dealer.dealer_user_id for dealer in command.dealers]
        if (
            not _valid_user(requester)
            or command.side not in _SIDES
            or not _valid_cl_ord_id(command.cl_ord_id)
            or not all(map(_valid_user, dealer_ids))
        ):
            return RejectReason.INVALID_FIELD
        quantity = command.quantity
        if quantity <= 0:
            return RejectReason.INVALID_QUANTITY
        expire_time_ms = command.expire_time_ms
        if expire_time_ms <= now:
            return RejectReason.EXPIRY_NOT_IN_FUTURE
        instrument_id = command.instrument_id
        instrument = self._instruments.get(instrument_id)
        if instrument is None:
            return RejectReason.UNKNOWN_INSTRUMENT
        if not instrument.enabled:
            return RejectReason.INSTRUMENT_DISABLED
        if quantity < instrument.min_quantity:
            return RejectReason.QUANTITY_BELOW_MINIMUM
        dealer_count = len(dealer_ids)
        if dealer_count == 0:
            return RejectReason.NO_DEALERS
        if dealer_count > MAX_DEALERS:
            return RejectReason.TOO_MANY_DEALERS
        dealers = {dealer_id: Dealer(dealer_id) for dealer_id in dealer_ids}
        if len(dealers) != dealer_count:
            return RejectReason.DUPLICATE_DEALER
        if requester in dealers:
            return RejectReason.REQUESTER_AS_DEALER
        rfqs = self._rfqs
        rfq_id = rfqs.next_id()
        side, cl_ord_id = command.side, command.cl_ord_id
        rfqs.put(
            Rfq(
                rfq_id=rfq_id,
                correlation_id=command.correlation_id,
                requester_user_id=requester,
                instrument_id=instrument_id,
                side=side,
                quantity=quantity,
                expire_time_ms=expire_time_ms,
                created_time_ms=now,
                cl_ord_id=cl_ord_id,
                dealers=dealers,
            )
        )
        self._timers.schedule(rfq_id, expire_time_ms)
        events: list[Event] = [
            make_rfq_created(
                correlation_id=command.correlation_id,
                rfq_id=rfq_id,
                requester_user_id=requester,
                instrument_id=instrument_id,
                side=side,
                quantity=quantity,
                expire_time_ms=expire_time_ms,
                timestamp_ms=now,
                cl_ord_id=cl_ord_id,
                dealers=[make_rfq_created_dealers(dealer_user_id=dealer_id) for dealer_id in dealer_ids],
            )
        ]
        for dealer_id in dealer_ids:
            events.append(
                make_rfq_invited(
                    rfq_id=rfq_id,
                    dealer_user_id=dealer_id,
                    requester_user_id=requester,
                    instrument_id=instrument_id,
                    side=side,
                    quantity=quantity,
                    expire_time_ms=expire_time_ms,
                    dealer_count=dealer_count,
                    timestamp_ms=now,
                )
            )
        return tuple(events)

    def _counter(self, command: CounterQuote, now: int) -> _Result:
        requester = command.user_id
        if not _valid_user(requester):
            return RejectReason.INVALID_FIELD
        price = command.price
        if price <= 0:
            return RejectReason.INVALID_PRICE
        quote_id = command.quote_id
        found = self._hittable_quote(requester, command.rfq_id, quote_id, now)
        if isinstance(found, RejectReason):
            return found
        rfq, dealer = found
        counter_id = self._rfqs.next_quote()
        dealer.counter_id, dealer.counter_price = counter_id, price
        rfq_id, dealer_id = rfq.rfq_id, dealer.user_id
        return (
            make_quote_countered(
                recipient_user_id=requester,
                correlation_id=command.correlation_id,
                rfq_id=rfq_id,
                counter_id=counter_id,
                quote_id=quote_id,
                dealer_user_id=dealer_id,
                price=price,
                timestamp_ms=now,
            ),
            make_quote_countered(
                recipient_user_id=dealer_id,
                correlation_id=None,
                rfq_id=rfq_id,
                counter_id=counter_id,
                quote_id=quote_id,
                dealer_user_id=dealer_id,
                price=price,
                timestamp_ms=now,
            ),
        )

    def _accept_quote(self, command: AcceptQuote, now: int) -> _Result:
        if not _valid_user(command.user_id):
            return RejectReason.INVALID_FIELD
        found = self._hittable_quote(command.user_id, command.rfq_id, command.quote_id, now)
        if isinstance(found, RejectReason):
            return found
        rfq, dealer = found
        price: int = dealer.price  # type: ignore[assignment]  # a live quote has its price
        return self._trade(rfq, dealer, TradeKind.QUOTE_HIT, command.quote_id, price, command, now)

    def _cancel(self, command: CancelRfq, now: int) -> _Result:
        if not _valid_user(command.user_id):
            return RejectReason.INVALID_FIELD
        rfq = self._requesters_rfq(command.user_id, command.rfq_id, now)
        if isinstance(rfq, RejectReason):
            return rfq
        self._end(rfq, EndReason.CANCELED)
        return self._ended_events(rfq, EndReason.CANCELED, command.correlation_id, now)

    # ------------------------------------------------------------------ the dealers

    def _quote(self, command: SubmitQuote, now: int) -> _Result:
        dealer_id = command.user_id
        if not _valid_user(dealer_id):
            return RejectReason.INVALID_FIELD
        price = command.price
        if price <= 0:
            return RejectReason.INVALID_PRICE
        found = self._dealers_rfq(dealer_id, command.rfq_id, now)
        if isinstance(found, RejectReason):
            return found
        rfq, dealer = found
        valid_until_ms = command.valid_until_ms
        if valid_until_ms is not None and not now < valid_until_ms <= rfq.expire_time_ms:
            return RejectReason.INVALID_VALIDITY
        replaced = dealer.quote_id if dealer.state is _QUOTED else None
        quote_id = self._rfqs.next_quote()
        dealer.quote(quote_id, price, valid_until_ms)
        validity = rfq.expire_time_ms if valid_until_ms is None else valid_until_ms
        rfq_id = rfq.rfq_id
        return (
            make_quote_submitted(
                recipient_user_id=dealer_id,
                correlation_id=command.correlation_id,
                rfq_id=rfq_id,
                quote_id=quote_id,
                dealer_user_id=dealer_id,
                price=price,
                valid_until_ms=validity,
                replaced_quote_id=replaced,
                timestamp_ms=now,
            ),
            make_quote_submitted(
                recipient_user_id=rfq.requester_user_id,
                correlation_id=None,
                rfq_id=rfq_id,
                quote_id=quote_id,
                dealer_user_id=dealer_id,
                price=price,
                valid_until_ms=validity,
                replaced_quote_id=replaced,
                timestamp_ms=now,
            ),
        )

    def _withdraw(self, command: WithdrawQuote, now: int) -> _Result:
        dealer_id = command.user_id
        if not _valid_user(dealer_id):
            return RejectReason.INVALID_FIELD
        found = self._dealers_rfq(dealer_id, command.rfq_id, now)
        if isinstance(found, RejectReason):
            return found
        rfq, dealer = found
        if not rfq.live_quote(dealer, now):
            return RejectReason.QUOTE_NOT_LIVE
        quote_id: int = dealer.quote_id  # type: ignore[assignment]  # a live quote has its id
        dealer.drop_quote(_WITHDRAWN)
        rfq_id = rfq.rfq_id
        return (
            make_quote_withdrawn(
                recipient_user_id=dealer_id,
                correlation_id=command.correlation_id,
                rfq_id=rfq_id,
                quote_id=quote_id,
                dealer_user_id=dealer_id,
                timestamp_ms=now,
            ),
            make_quote_withdrawn(
                recipient_user_id=rfq.requester_user_id,
                correlation_id=None,
                rfq_id=rfq_id,
                quote_id=quote_id,
                dealer_user_id=dealer_id,
                timestamp_ms=now,
            ),
        )

    def _pass(self, command: PassRfq, now: int) -> _Result:
        dealer_id = command.user_id
        if not _valid_user(dealer_id):
            return RejectReason.INVALID_FIELD
        found = self._dealers_rfq(dealer_id, command.rfq_id, now)
        if isinstance(found, RejectReason):
            return found
        rfq, dealer = found
        dealer.drop_quote(_PASSED)
        rfq_id = rfq.rfq_id
        return (
            make_dealer_passed(
                recipient_user_id=dealer_id,
                correlation_id=command.correlation_id,
                rfq_id=rfq_id,
                dealer_user_id=dealer_id,
                timestamp_ms=now,
            ),
            make_dealer_passed(
                recipient_user_id=rfq.requester_user_id,
                correlation_id=None,
                rfq_id=rfq_id,
                dealer_user_id=dealer_id,
                timestamp_ms=now,
            ),
        )

    def _accept_counter(self, command: AcceptCounter, now: int) -> _Result:
        if not _valid_user(command.user_id):
            return RejectReason.INVALID_FIELD
        found = self._dealers_rfq(command.user_id, command.rfq_id, now)
        if isinstance(found, RejectReason):
            return found
        rfq, dealer = found
        counter_id = command.counter_id
        if not self._rfqs.quote_issued(counter_id):
            return RejectReason.UNKNOWN_QUOTE
        if dealer.counter_id != counter_id:
            return RejectReason.COUNTER_NOT_LIVE
        price: int = dealer.counter_price  # type: ignore[assignment]  # a live counter has its price
        return self._trade(rfq, dealer, TradeKind.COUNTER_ACCEPTED, counter_id, price, command, now)

    # ------------------------------------------------------------------ shared rules

    # The RFQ rule opens every rule below: an active RFQ whose deadline has not come. Its test is
    # spelled out in each (two comparisons) and only the refusal is a call of its own: one Python call
    # less per command on the RFQ.

    def _rfq_refusal(self, rfq_id: int, rfq: Rfq | None) -> RejectReason:
        """The RFQ rule's refusal, for ``rfq`` (the active RFQ ``rfq_id``, or None) not live."""
        if rfq is not None:
            return RejectReason.RFQ_EXPIRED  # still active, but its deadline has come
        if not self._rfqs.existed(rfq_id):
            return RejectReason.UNKNOWN_RFQ
        ended = self._rfqs.ended_reason(rfq_id)
        return RejectReason.RFQ_NOT_ACTIVE if ended is None else _ended_refusal(ended)

    def _requesters_rfq(self, user_id: int, rfq_id: int, now: int) -> Rfq | RejectReason:
        """The RFQ rule, then the requester rule."""
        rfq = self._rfqs.get(rfq_id)
        if rfq is None or now >= rfq.expire_time_ms:
            return self._rfq_refusal(rfq_id, rfq)
        if user_id == rfq.requester_user_id:
            return rfq
        return RejectReason.NOT_REQUESTER if user_id in rfq.dealers else RejectReason.NOT_A_PARTY

    def _dealers_rfq(self, user_id: int, rfq_id: int, now: int) -> tuple[Rfq, Dealer] | RejectReason:
        """The RFQ rule, then: an invited dealer that has not passed."""
        rfq = self._rfqs.get(rfq_id)
        if rfq is None or now >= rfq.expire_time_ms:
            return self._rfq_refusal(rfq_id, rfq)
        dealer = rfq.dealers.get(user_id)
        if dealer is None:
            return RejectReason.NOT_INVITED
        if dealer.state is _PASSED:
            return RejectReason.DEALER_PASSED
        return rfq, dealer

    def _hittable_quote(
        self, user_id: int, rfq_id: int, quote_id: int, now: int
    ) -> tuple[Rfq, Dealer] | RejectReason:
        """The RFQ and requester rules, then: ``quote_id`` is a live quote of this RFQ."""
        rfq = self._requesters_rfq(user_id, rfq_id, now)
        if isinstance(rfq, RejectReason):
            return rfq
        if not self._rfqs.quote_issued(quote_id):
            return RejectReason.UNKNOWN_QUOTE
        dealer = rfq.dealer_with_live_quote(quote_id, now)
        if dealer is None:
            return RejectReason.QUOTE_NOT_LIVE
        return rfq, dealer

    # ------------------------------------------------------------------ endings

    def _trade(
        self,
        rfq: Rfq,
        winner: Dealer,
        kind: TradeKind,
        quote_id: int,
        price: int,
        command: AcceptQuote | AcceptCounter,
        now: int,
    ) -> tuple[Event, ...]:
        """The one trade of ``rfq``: both parties' copies, then every other dealer hears how it ended."""
        cover = rfq.best_live_price(now, excluding=winner.user_id)
        trade_id = self._rfqs.next_trade()
        rfq_id, requester, dealer_id = rfq.rfq_id, rfq.requester_user_id, winner.user_id
        buyer, seller = (requester, dealer_id) if rfq.side is _BUY else (dealer_id, requester)
        actor, correlation_id = command.user_id, command.correlation_id
        self._end(rfq, EndReason.TRADED)
        events: list[Event] = []
        for recipient in (requester, dealer_id):
            events.append(
                make_rfq_traded(
                    recipient_user_id=recipient,
                    correlation_id=correlation_id if recipient == actor else None,
                    rfq_id=rfq_id,
                    trade_id=trade_id,
                    kind=kind,
                    quote_id=quote_id,
                    requester_user_id=requester,
                    dealer_user_id=dealer_id,
                    buyer_user_id=buyer,
                    seller_user_id=seller,
                    instrument_id=rfq.instrument_id,
                    price=price,
                    quantity=rfq.quantity,
                    cover_price=cover,
                    timestamp_ms=now,
                )
            )
        for dealer in rfq.dealers.values():
            if dealer is not winner and dealer.state is not _PASSED:
                events.append(
                    make_rfq_ended(
                        recipient_user_id=dealer.user_id,
                        correlation_id=None,
                        rfq_id=rfq_id,
                        reason=_DONE_AWAY if dealer.state in QUOTING_STATES else _TRADED,
                        timestamp_ms=now,
                    )
                )
        return tuple(events)

    @staticmethod
    def _ended_events(rfq: Rfq, reason: EndReason, correlation_id: int | None, now: int) -> tuple[Event, ...]:
        """``RfqEnded`` to the requester (with ``correlation_id``), then to every dealer still in it."""
        rfq_id = rfq.rfq_id
        events: list[Event] = [
            make_rfq_ended(
                recipient_user_id=rfq.requester_user_id,
                correlation_id=correlation_id,
                rfq_id=rfq_id,
                reason=reason,
                timestamp_ms=now,
            )
        ]
        for dealer in rfq.dealers.values():
            if dealer.state is not _PASSED:
                events.append(
                    make_rfq_ended(
                        recipient_user_id=dealer.user_id,
                        correlation_id=None,
                        rfq_id=rfq_id,
                        reason=reason,
                        timestamp_ms=now,
                    )
                )
        return tuple(events)

    def _end(self, rfq: Rfq, reason: EndReason) -> None:
        """End an RFQ by a command: out of the book (remembering why), its timer withdrawn."""
        self._rfqs.end(rfq, reason)
        self._timers.cancel(rfq.rfq_id)


def _ended_refusal(reason: EndReason) -> RejectReason:
    return _ENDED_REFUSAL.get(reason, RejectReason.RFQ_NOT_ACTIVE)
