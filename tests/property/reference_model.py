"""An independent reference model of the RFQ state machine (docs/state-machine.md), and the scenarios
that drive it.

The model is written from the spec alone, plainly: dicts and dataclasses, every RFQ kept forever with
its end reason, each rule one ``if`` in the spec's order, no indexes and no care for speed. It imports
nothing from ``rfq.cluster.domain``, only the codec's value classes (to build the events it expects).
Two commands are "the same command" (same digest) when they are equal field for field. For each
command and each timer firing it predicts the exact events (or records, for ``QueryState``), in
order, their audience and the duplicate flag. The window of recently ended RFQs is assumed never to
evict (tests stay far below it).

The second half, ``Scenario`` and ``command_logs``, draws commands from the model's state (existing
RFQs, invited dealers, live quotes and counters most of the time, something wrong some of the time)
so that the property tests reach trades, counters and expiries often. It is shared by the stateful
model test, the privacy test and the replay test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

from rfq.codecs.rfq_sbe import (
    AcceptCounter,
    AcceptQuote,
    AddInstrument,
    BooleanType,
    CancelRfq,
    CommandRejected,
    CounterQuote,
    CreateRfq,
    CreateRfqDealers,
    DealerPassed,
    DealerState,
    EnableInstrument,
    EndReason,
    InstrumentAdded,
    InstrumentEnabled,
    InstrumentRecord,
    PassRfq,
    QueryState,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RejectReason,
    RfqCreated,
    RfqCreatedDealers,
    RfqEnded,
    RfqInvited,
    RfqRecord,
    RfqRecordDealers,
    RfqTraded,
    Side,
    StateQueried,
    SubmitQuote,
    TradeKind,
    WithdrawQuote,
)

R = RejectReason
MAX_DEALERS = 10
MAX_USER_ID = 2**31 - 1
BROADCAST = "BROADCAST"
SENDER = "SENDER"


# ====================================================================== the model's state


@dataclasses.dataclass
class Instrument:
    cusip: str
    min_quantity: int
    enabled: bool


@dataclasses.dataclass
class Seat:
    """One invited dealer's standing in one RFQ."""

    dealer: int
    state: DealerState = DealerState.INVITED
    quote_id: int | None = None  # the dealer's current quote (only while state is QUOTED)
    quote_price: int | None = None
    valid_until: int | None = None  # the quote's own validity, or the deadline
    counter_id: int | None = None  # the requester's current counter to this dealer
    counter_price: int | None = None

    def quote_is_live(self, now: int) -> bool:
        return self.state == DealerState.QUOTED and self.valid_until is not None and now < self.valid_until

    def counter_is_live(self) -> bool:
        return self.counter_id is not None

    def drop_quote_and_counter(self) -> None:
        self.quote_id = self.quote_price = self.valid_until = None
        self.counter_id = self.counter_price = None


@dataclasses.dataclass
class Rfq:
    rfq_id: int
    requester: int
    instrument_id: int
    side: Side
    quantity: int
    deadline: int
    seats: list[Seat]  # in the order of the CreateRfq's dealer list
    correlation_id: int  # the CreateRfq's
    created: int
    cl_ord_id: str
    ended: EndReason | None = None  # None while active; TRADED, CANCELED, INSTRUMENT_DISABLED or EXPIRED

    def seat_of(self, user: int) -> Seat | None:
        for seat in self.seats:
            if seat.dealer == user:
                return seat
        return None

    def dealers(self) -> list[int]:
        return [seat.dealer for seat in self.seats]

    def not_passed(self) -> list[Seat]:
        return [seat for seat in self.seats if seat.state != DealerState.PASSED]


@dataclasses.dataclass(frozen=True)
class Expected:
    """What the spec says one command produces: events in order, their audience, the duplicate flag."""

    events: tuple[Any, ...]
    audience: str  # BROADCAST or SENDER
    duplicate: bool = False


def is_valid_cusip(cusip: str) -> bool:
    """Nine characters, the last the "modulus 10 double add double" check digit of the first eight."""
    values = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*@#"
    if len(cusip) != 9 or cusip[8] not in "0123456789":
        return False
    total = 0
    for position, char in enumerate(cusip[:8]):
        if char not in values:
            return False
        value = values.index(char)
        if position % 2 == 1:
            value = value * 2
        total += value // 10 + value % 10
    return (10 - total % 10) % 10 == int(cusip[8])


def valid_user(user: int) -> bool:
    return 1 <= user <= MAX_USER_ID


def printable_ascii(text: str) -> bool:
    return all(" " <= char <= "~" for char in text)


# ====================================================================== the model


class ReferenceModel:
    """The rules of docs/state-machine.md on plain data."""

    def __init__(self, dedupe_capacity: int = 100_000) -> None:
        self.instruments: dict[int, Instrument] = {}
        self.rfqs: dict[int, Rfq] = {}
        self.next_quote_id = 1  # one sequence for quotes and counters
        self.next_trade_id = 1
        self.dedupe_capacity = dedupe_capacity
        # correlation id → (the command, its original events); oldest applied first
        self.applied: dict[int, tuple[Any, tuple[Any, ...]]] = {}

    @property
    def next_instrument_id(self) -> int:
        return len(self.instruments) + 1

    @property
    def next_rfq_id(self) -> int:
        return len(self.rfqs) + 1

    # ---------------------------------------------------------------- queries (also for scenarios)

    def active_rfqs(self) -> list[Rfq]:
        """Not ended (some may be past their deadline, their timer not fired yet), ascending id."""
        return [rfq for _, rfq in sorted(self.rfqs.items()) if rfq.ended is None]

    def active_expiries(self) -> list[tuple[int, int]]:
        return [(rfq.rfq_id, rfq.deadline) for rfq in self.active_rfqs()]

    def live_quotes(self, rfq: Rfq, now: int) -> list[tuple[Seat, int]]:
        """(seat, quote id) of every live quote of ``rfq``, in invitation order."""
        return [
            (seat, seat.quote_id)
            for seat in rfq.seats
            if seat.quote_is_live(now) and seat.quote_id is not None
        ]

    def due_timers(self, now: int) -> list[int]:
        """The active RFQs whose timer is due at ``now``, in firing order (deadline, then id)."""
        return [i for _, i in sorted((r.deadline, r.rfq_id) for r in self.active_rfqs() if r.deadline <= now)]

    # ---------------------------------------------------------------- commands

    def apply(self, command: Any, now: int) -> Expected:
        cid = command.correlation_id
        if isinstance(command, QueryState):  # exempt from the dedupe window: never checked nor recorded
            return self.query_state(command, now)
        if cid in self.applied:
            original, original_events = self.applied[cid]
            if type(original) is type(command) and original == command:
                return Expected(original_events, SENDER, duplicate=True)
            # a different command under a used correlation id: refused, and the refusal not recorded
            return Expected((self.rejected(command, R.CORRELATION_ID_REUSED, now),), SENDER)
        handlers: dict[type, Callable[[Any, int], RejectReason | list[Any]]] = {
            AddInstrument: self.add_instrument,
            EnableInstrument: self.enable_instrument,
            CreateRfq: self.create_rfq,
            SubmitQuote: self.submit_quote,
            WithdrawQuote: self.withdraw_quote,
            PassRfq: self.pass_rfq,
            CounterQuote: self.counter_quote,
            AcceptQuote: self.accept_quote,
            AcceptCounter: self.accept_counter,
            CancelRfq: self.cancel_rfq,
        }
        result = handlers[type(command)](command, now)
        if isinstance(result, RejectReason):
            expected = Expected((self.rejected(command, result, now),), SENDER)
        else:
            expected = Expected(tuple(result), BROADCAST)
        self.applied[cid] = (command, expected.events)
        if len(self.applied) > self.dedupe_capacity:
            del self.applied[next(iter(self.applied))]
        return expected

    def rejected(self, command: Any, reason: RejectReason, now: int) -> CommandRejected:
        return CommandRejected(
            correlation_id=command.correlation_id,
            user_id=command.user_id if valid_user(command.user_id) else None,
            template_id=command.TEMPLATE_ID,
            reason=reason,
            timestamp_ms=now,
        )

    def add_instrument(self, c: AddInstrument, now: int) -> RejectReason | list[Any]:
        if not valid_user(c.user_id) or c.enabled not in (BooleanType.TRUE, BooleanType.FALSE):
            return R.INVALID_FIELD
        if c.min_quantity < 0:
            return R.INVALID_QUANTITY
        if not is_valid_cusip(c.cusip):
            return R.INVALID_CUSIP
        if any(instrument.cusip == c.cusip for instrument in self.instruments.values()):
            return R.DUPLICATE_INSTRUMENT
        instrument_id = self.next_instrument_id
        self.instruments[instrument_id] = Instrument(c.cusip, c.min_quantity, c.enabled == BooleanType.TRUE)
        return [
            InstrumentAdded(
                correlation_id=c.correlation_id,
                instrument_id=instrument_id,
                min_quantity=c.min_quantity,
                enabled=c.enabled,
                timestamp_ms=now,
                cusip=c.cusip,
            )
        ]

    def enable_instrument(self, c: EnableInstrument, now: int) -> RejectReason | list[Any]:
        if not valid_user(c.user_id) or c.enabled not in (BooleanType.TRUE, BooleanType.FALSE):
            return R.INVALID_FIELD
        instrument = self.instruments.get(c.instrument_id)
        if instrument is None:
            return R.UNKNOWN_INSTRUMENT
        enable = c.enabled == BooleanType.TRUE
        if instrument.enabled == enable:
            return R.NO_CHANGE
        instrument.enabled = enable
        events: list[Any] = [
            InstrumentEnabled(
                correlation_id=c.correlation_id,
                instrument_id=c.instrument_id,
                enabled=c.enabled,
                timestamp_ms=now,
            )
        ]
        if not enable:
            for rfq in self.active_rfqs():  # ascending rfq id
                if rfq.instrument_id == c.instrument_id and now < rfq.deadline:
                    events += self.end(rfq, EndReason.INSTRUMENT_DISABLED, now, requester_cid=None)
        return events

    def create_rfq(self, c: CreateRfq, now: int) -> RejectReason | list[Any]:
        dealers = [entry.dealer_user_id for entry in c.dealers]
        if (
            not valid_user(c.user_id)
            or c.side not in (Side.BUY, Side.SELL)
            or len(c.cl_ord_id) > 20
            or not printable_ascii(c.cl_ord_id)
            or not all(valid_user(dealer) for dealer in dealers)
        ):
            return R.INVALID_FIELD
        if c.quantity <= 0:
            return R.INVALID_QUANTITY
        if c.expire_time_ms <= now:
            return R.EXPIRY_NOT_IN_FUTURE
        instrument = self.instruments.get(c.instrument_id)
        if instrument is None:
            return R.UNKNOWN_INSTRUMENT
        if not instrument.enabled:
            return R.INSTRUMENT_DISABLED
        if c.quantity < instrument.min_quantity:
            return R.QUANTITY_BELOW_MINIMUM
        if not dealers:
            return R.NO_DEALERS
        if len(dealers) > MAX_DEALERS:
            return R.TOO_MANY_DEALERS
        if len(set(dealers)) != len(dealers):
            return R.DUPLICATE_DEALER
        if c.user_id in dealers:
            return R.REQUESTER_AS_DEALER
        rfq = Rfq(
            rfq_id=self.next_rfq_id,
            requester=c.user_id,
            instrument_id=c.instrument_id,
            side=c.side,
            quantity=c.quantity,
            deadline=c.expire_time_ms,
            seats=[Seat(dealer) for dealer in dealers],
            correlation_id=c.correlation_id,
            created=now,
            cl_ord_id=c.cl_ord_id,
        )
        self.rfqs[rfq.rfq_id] = rfq
        events: list[Any] = [
            RfqCreated(
                correlation_id=c.correlation_id,
                rfq_id=rfq.rfq_id,
                requester_user_id=c.user_id,
                instrument_id=c.instrument_id,
                side=c.side,
                quantity=c.quantity,
                expire_time_ms=c.expire_time_ms,
                timestamp_ms=now,
                cl_ord_id=c.cl_ord_id,
                dealers=[RfqCreatedDealers(dealer_user_id=dealer) for dealer in dealers],
            )
        ]
        for dealer in dealers:
            events.append(
                RfqInvited(
                    rfq_id=rfq.rfq_id,
                    dealer_user_id=dealer,
                    requester_user_id=c.user_id,
                    instrument_id=c.instrument_id,
                    side=c.side,
                    quantity=c.quantity,
                    expire_time_ms=c.expire_time_ms,
                    dealer_count=len(dealers),
                    timestamp_ms=now,
                )
            )
        return events

    def query_state(self, c: QueryState, now: int) -> Expected:
        """Every instrument, every active RFQ (dealers' standing included), then StateQueried; to the
        sender. A quote's ``valid_until_ms`` is given as its effective validity (own or deadline)."""
        if not valid_user(c.user_id):
            return Expected((self.rejected(c, R.INVALID_FIELD, now),), SENDER)
        records: list[Any] = [
            InstrumentRecord(
                instrument_id=instrument_id,
                min_quantity=instrument.min_quantity,
                enabled=BooleanType.TRUE if instrument.enabled else BooleanType.FALSE,
                cusip=instrument.cusip,
            )
            for instrument_id, instrument in sorted(self.instruments.items())
        ]
        active = self.active_rfqs()
        for rfq in active:
            records.append(
                RfqRecord(
                    rfq_id=rfq.rfq_id,
                    correlation_id=rfq.correlation_id,
                    requester_user_id=rfq.requester,
                    instrument_id=rfq.instrument_id,
                    side=rfq.side,
                    quantity=rfq.quantity,
                    expire_time_ms=rfq.deadline,
                    created_time_ms=rfq.created,
                    cl_ord_id=rfq.cl_ord_id,
                    dealers=[
                        RfqRecordDealers(
                            dealer_user_id=seat.dealer,
                            state=seat.state,
                            quote_id=seat.quote_id,
                            price=seat.quote_price,
                            valid_until_ms=seat.valid_until,
                            counter_id=seat.counter_id,
                            counter_price=seat.counter_price,
                        )
                        for seat in rfq.seats
                    ],
                )
            )
        records.append(
            StateQueried(
                correlation_id=c.correlation_id,
                instrument_count=len(self.instruments),
                rfq_count=len(active),
                next_rfq_id=self.next_rfq_id,
                timestamp_ms=now,
            )
        )
        return Expected(tuple(records), SENDER)

    # ---------------------------------------------------------------- the shared rules

    def rfq_rule(self, rfq_id: int, now: int) -> RejectReason | None:
        rfq = self.rfqs.get(rfq_id)
        if rfq is None:
            return R.UNKNOWN_RFQ
        if rfq.ended == EndReason.TRADED:
            return R.ALREADY_TRADED
        if rfq.ended == EndReason.EXPIRED:
            return R.RFQ_EXPIRED
        if rfq.ended is not None:
            return R.RFQ_NOT_ACTIVE
        if now >= rfq.deadline:
            return R.RFQ_EXPIRED
        return None

    def dealer_rule(self, rfq: Rfq, user: int) -> RejectReason | None:
        seat = rfq.seat_of(user)
        if seat is None:
            return R.NOT_INVITED
        if seat.state == DealerState.PASSED:
            return R.DEALER_PASSED
        return None

    def requester_rule(self, rfq: Rfq, user: int) -> RejectReason | None:
        if rfq.seat_of(user) is not None:
            return R.NOT_REQUESTER
        if user != rfq.requester:
            return R.NOT_A_PARTY
        return None

    def live_quote_rule(self, rfq: Rfq, quote_id: int, now: int) -> RejectReason | Seat:
        """The seat whose live quote ``quote_id`` is, or why there is none."""
        if not 1 <= quote_id < self.next_quote_id:
            return R.UNKNOWN_QUOTE
        for seat in rfq.seats:
            if seat.quote_id == quote_id and seat.quote_is_live(now):
                return seat
        return R.QUOTE_NOT_LIVE

    # ---------------------------------------------------------------- dealer commands

    def submit_quote(self, c: SubmitQuote, now: int) -> RejectReason | list[Any]:
        if not valid_user(c.user_id):
            return R.INVALID_FIELD
        if c.price <= 0:
            return R.INVALID_PRICE
        reason = self.rfq_rule(c.rfq_id, now)
        if reason is not None:
            return reason
        rfq = self.rfqs[c.rfq_id]
        reason = self.dealer_rule(rfq, c.user_id)
        if reason is not None:
            return reason
        if c.valid_until_ms is not None and not now < c.valid_until_ms <= rfq.deadline:
            return R.INVALID_VALIDITY
        seat = rfq.seat_of(c.user_id)
        assert seat is not None
        replaced = seat.quote_id if seat.state == DealerState.QUOTED else None
        quote_id = self.next_quote_id
        self.next_quote_id += 1
        valid_until = rfq.deadline if c.valid_until_ms is None else c.valid_until_ms
        seat.drop_quote_and_counter()  # a new quote kills the counter to the old one
        seat.state = DealerState.QUOTED
        seat.quote_id, seat.quote_price, seat.valid_until = quote_id, c.price, valid_until
        return [
            QuoteSubmitted(
                recipient_user_id=recipient,
                correlation_id=cid,
                rfq_id=rfq.rfq_id,
                quote_id=quote_id,
                dealer_user_id=c.user_id,
                price=c.price,
                valid_until_ms=valid_until,
                replaced_quote_id=replaced,
                timestamp_ms=now,
            )
            for recipient, cid in ((c.user_id, c.correlation_id), (rfq.requester, None))
        ]

    def withdraw_quote(self, c: WithdrawQuote, now: int) -> RejectReason | list[Any]:
        if not valid_user(c.user_id):
            return R.INVALID_FIELD
        reason = self.rfq_rule(c.rfq_id, now)
        if reason is not None:
            return reason
        rfq = self.rfqs[c.rfq_id]
        reason = self.dealer_rule(rfq, c.user_id)
        if reason is not None:
            return reason
        seat = rfq.seat_of(c.user_id)
        assert seat is not None
        if not seat.quote_is_live(now):
            return R.QUOTE_NOT_LIVE
        quote_id = seat.quote_id
        assert quote_id is not None
        seat.drop_quote_and_counter()
        seat.state = DealerState.WITHDRAWN
        return [
            QuoteWithdrawn(
                recipient_user_id=recipient,
                correlation_id=cid,
                rfq_id=rfq.rfq_id,
                quote_id=quote_id,
                dealer_user_id=c.user_id,
                timestamp_ms=now,
            )
            for recipient, cid in ((c.user_id, c.correlation_id), (rfq.requester, None))
        ]

    def pass_rfq(self, c: PassRfq, now: int) -> RejectReason | list[Any]:
        if not valid_user(c.user_id):
            return R.INVALID_FIELD
        reason = self.rfq_rule(c.rfq_id, now)
        if reason is not None:
            return reason
        rfq = self.rfqs[c.rfq_id]
        reason = self.dealer_rule(rfq, c.user_id)  # NOT_INVITED, or DEALER_PASSED when already passed
        if reason is not None:
            return reason
        seat = rfq.seat_of(c.user_id)
        assert seat is not None
        seat.drop_quote_and_counter()
        seat.state = DealerState.PASSED
        return [
            DealerPassed(
                recipient_user_id=recipient,
                correlation_id=cid,
                rfq_id=rfq.rfq_id,
                dealer_user_id=c.user_id,
                timestamp_ms=now,
            )
            for recipient, cid in ((c.user_id, c.correlation_id), (rfq.requester, None))
        ]

    def accept_counter(self, c: AcceptCounter, now: int) -> RejectReason | list[Any]:
        if not valid_user(c.user_id):
            return R.INVALID_FIELD
        reason = self.rfq_rule(c.rfq_id, now)
        if reason is not None:
            return reason
        rfq = self.rfqs[c.rfq_id]
        reason = self.dealer_rule(rfq, c.user_id)
        if reason is not None:
            return reason
        if not 1 <= c.counter_id < self.next_quote_id:
            return R.UNKNOWN_QUOTE
        seat = rfq.seat_of(c.user_id)
        assert seat is not None
        if not seat.counter_is_live() or seat.counter_id != c.counter_id:
            return R.COUNTER_NOT_LIVE
        assert seat.counter_price is not None
        return self.trade(rfq, seat, TradeKind.COUNTER_ACCEPTED, c.counter_id, seat.counter_price, c, now)

    # ---------------------------------------------------------------- requester commands

    def counter_quote(self, c: CounterQuote, now: int) -> RejectReason | list[Any]:
        if not valid_user(c.user_id):
            return R.INVALID_FIELD
        if c.price <= 0:
            return R.INVALID_PRICE
        reason = self.rfq_rule(c.rfq_id, now)
        if reason is not None:
            return reason
        rfq = self.rfqs[c.rfq_id]
        reason = self.requester_rule(rfq, c.user_id)
        if reason is not None:
            return reason
        seat = self.live_quote_rule(rfq, c.quote_id, now)
        if isinstance(seat, RejectReason):
            return seat
        counter_id = self.next_quote_id
        self.next_quote_id += 1
        seat.counter_id, seat.counter_price = counter_id, c.price  # replaces any earlier counter
        return [
            QuoteCountered(
                recipient_user_id=recipient,
                correlation_id=cid,
                rfq_id=rfq.rfq_id,
                counter_id=counter_id,
                quote_id=c.quote_id,
                dealer_user_id=seat.dealer,
                price=c.price,
                timestamp_ms=now,
            )
            for recipient, cid in ((rfq.requester, c.correlation_id), (seat.dealer, None))
        ]

    def accept_quote(self, c: AcceptQuote, now: int) -> RejectReason | list[Any]:
        if not valid_user(c.user_id):
            return R.INVALID_FIELD
        reason = self.rfq_rule(c.rfq_id, now)
        if reason is not None:
            return reason
        rfq = self.rfqs[c.rfq_id]
        reason = self.requester_rule(rfq, c.user_id)
        if reason is not None:
            return reason
        seat = self.live_quote_rule(rfq, c.quote_id, now)
        if isinstance(seat, RejectReason):
            return seat
        assert seat.quote_price is not None
        return self.trade(rfq, seat, TradeKind.QUOTE_HIT, c.quote_id, seat.quote_price, c, now)

    def cancel_rfq(self, c: CancelRfq, now: int) -> RejectReason | list[Any]:
        if not valid_user(c.user_id):
            return R.INVALID_FIELD
        reason = self.rfq_rule(c.rfq_id, now)
        if reason is not None:
            return reason
        rfq = self.rfqs[c.rfq_id]
        reason = self.requester_rule(rfq, c.user_id)
        if reason is not None:
            return reason
        return self.end(rfq, EndReason.CANCELED, now, requester_cid=c.correlation_id)

    # ---------------------------------------------------------------- endings

    def trade(
        self, rfq: Rfq, winner: Seat, kind: TradeKind, quote_id: int, price: int, c: Any, now: int
    ) -> list[Any]:
        others = [
            seat.quote_price
            for seat in rfq.seats
            if seat is not winner and seat.quote_is_live(now) and seat.quote_price is not None
        ]
        cover = None  # the best live quote of the other dealers: lowest when R buys, highest when R sells
        if others:
            cover = min(others) if rfq.side == Side.BUY else max(others)
        trade_id = self.next_trade_id
        self.next_trade_id += 1
        if rfq.side == Side.BUY:
            buyer, seller = rfq.requester, winner.dealer
        else:
            buyer, seller = winner.dealer, rfq.requester
        events: list[Any] = [
            RfqTraded(
                recipient_user_id=recipient,
                correlation_id=c.correlation_id if recipient == c.user_id else None,
                rfq_id=rfq.rfq_id,
                trade_id=trade_id,
                kind=kind,
                quote_id=quote_id,
                requester_user_id=rfq.requester,
                dealer_user_id=winner.dealer,
                buyer_user_id=buyer,
                seller_user_id=seller,
                instrument_id=rfq.instrument_id,
                price=price,
                quantity=rfq.quantity,
                cover_price=cover,
                timestamp_ms=now,
            )
            for recipient in (rfq.requester, winner.dealer)
        ]
        for seat in rfq.not_passed():
            if seat is winner:
                continue
            quoted = seat.state in (DealerState.QUOTED, DealerState.WITHDRAWN)
            events.append(
                RfqEnded(
                    recipient_user_id=seat.dealer,
                    correlation_id=None,
                    rfq_id=rfq.rfq_id,
                    reason=EndReason.DONE_AWAY if quoted else EndReason.TRADED,
                    timestamp_ms=now,
                )
            )
        rfq.ended = EndReason.TRADED
        return events

    def end(self, rfq: Rfq, reason: EndReason, now: int, requester_cid: int | None) -> list[Any]:
        """RfqEnded to the requester (with its correlation id when it cancelled), then to each dealer
        that has not passed."""
        events = [
            RfqEnded(
                recipient_user_id=rfq.requester,
                correlation_id=requester_cid,
                rfq_id=rfq.rfq_id,
                reason=reason,
                timestamp_ms=now,
            )
        ]
        for seat in rfq.not_passed():
            events.append(
                RfqEnded(
                    recipient_user_id=seat.dealer,
                    correlation_id=None,
                    rfq_id=rfq.rfq_id,
                    reason=reason,
                    timestamp_ms=now,
                )
            )
        rfq.ended = reason
        return events

    def on_timer(self, rfq_id: int, now: int) -> tuple[Any, ...]:
        """The expiry timer of ``rfq_id`` fires; stale (ended, unknown) or early timers do nothing."""
        rfq = self.rfqs.get(rfq_id)
        if rfq is None or rfq.ended is not None or now < rfq.deadline:
            return ()
        return tuple(self.end(rfq, EndReason.EXPIRED, now, requester_cid=None))


# ====================================================================== scenarios: drawing commands

Ex = TypeVar("Ex")


class Draw(Protocol):
    """``data.draw`` in a stateful rule, or the ``draw`` of a composite strategy."""

    def __call__(self, strategy: st.SearchStrategy[Ex], label: Any = None) -> Ex: ...


START_MS = 1_700_000_000_000
OPERATOR = 99
USERS = tuple(range(1, 9))  # requesters and dealers come from this pool
OUTSIDER = 50  # a user nobody invites
GOOD_CUSIPS = ("037833100", "38259P508", "594918104", "46625H100")
BAD_CUSIPS = ("037833109", "38259p508", "ABC")
PRICES = (99 * 10**8, 99_50_000_000, 100 * 10**8, 100_50_000_000, 101 * 10**8)
ELAPSED_MS = (0, 1, 499, 1_000, 3_000, 10_000, 30_000)


class Scenario:
    """Builds commands against the model's current state, mostly ones that should go through.

    Every ``make_*`` method takes ``draw`` (``data.draw`` in a stateful rule, or a composite's
    ``draw``) and returns a command stamped with a fresh correlation id. ``apply`` runs it on the
    model at the current cluster time and remembers it for resends.
    """

    def __init__(self, model: ReferenceModel) -> None:
        self.model = model
        self.now = START_MS
        self.sequence = 0
        self.sent: list[Any] = []

    def cid(self) -> int:
        """Correlation ids are the gateway's choice: sparse, large, some negative."""
        self.sequence += 1
        return self.sequence * 1_000_003 * (-1 if self.sequence % 7 == 0 else 1)

    def apply(self, command: Any) -> Expected:
        self.sent.append(command)
        return self.model.apply(command, self.now)

    def setup(self) -> list[Any]:
        """Two enabled instruments (minimum quantities 100 and 0) to trade."""
        return [
            AddInstrument(
                correlation_id=self.cid(),
                user_id=OPERATOR,
                min_quantity=minimum,
                enabled=BooleanType.TRUE,
                cusip=cusip,
            )
            for cusip, minimum in ((GOOD_CUSIPS[0], 100), (GOOD_CUSIPS[1], 0))
        ]

    # ---------------------------------------------------------------- picking targets

    def pick_rfq(self, draw: Draw, prefer: Callable[[Rfq], bool] | None = None) -> int:
        """Mostly an open RFQ (one that ``prefer`` likes, if any); sometimes one still active but past
        its deadline (its timer not fired yet), any RFQ (ended ones too) or an unknown id."""
        mode = draw(st.sampled_from(["open"] * 8 + ["overdue", "any", "unknown"]))
        overdue = [rfq for rfq in self.model.active_rfqs() if self.now >= rfq.deadline]
        candidates = {"open": self.open_rfqs(), "overdue": overdue}.get(mode, [])
        if prefer is not None:
            candidates = [rfq for rfq in candidates if prefer(rfq)] or candidates
        if candidates:
            return draw(st.sampled_from([rfq.rfq_id for rfq in candidates]))
        if mode != "unknown" and self.model.rfqs:
            return draw(st.sampled_from(sorted(self.model.rfqs)))
        return self.model.next_rfq_id + draw(st.integers(0, 2))

    def open_rfqs(self) -> list[Rfq]:
        """The active RFQs whose deadline has not come."""
        return [rfq for rfq in self.model.active_rfqs() if self.now < rfq.deadline]

    def pick_dealer(self, draw: Draw, rfq_id: int) -> int:
        """Mostly an invited dealer that has not passed; sometimes the requester or an outsider."""
        rfq = self.model.rfqs.get(rfq_id)
        if rfq is None:
            return draw(st.sampled_from(USERS))
        mode = draw(st.sampled_from(["invited"] * 8 + ["requester", "outsider"]))
        if mode == "invited":
            seats = rfq.not_passed() or rfq.seats
            return draw(st.sampled_from([seat.dealer for seat in seats]))
        if mode == "requester":
            return rfq.requester
        return self.outsider(draw, rfq)

    def pick_requester(self, draw: Draw, rfq_id: int) -> int:
        """Mostly the requester; sometimes an invited dealer or an outsider."""
        rfq = self.model.rfqs.get(rfq_id)
        if rfq is None:
            return draw(st.sampled_from(USERS))
        mode = draw(st.sampled_from(["requester"] * 8 + ["dealer", "outsider"]))
        if mode == "requester":
            return rfq.requester
        if mode == "dealer":
            return draw(st.sampled_from(rfq.dealers()))
        return self.outsider(draw, rfq)

    def outsider(self, draw: Draw, rfq: Rfq) -> int:
        others = [user for user in USERS if user != rfq.requester and user not in rfq.dealers()]
        return draw(st.sampled_from([*others, OUTSIDER]))

    def pick_quote_id(self, draw: Draw, rfq_id: int) -> int:
        """Mostly a live quote of the RFQ; sometimes any id issued (quote or counter), or one never issued."""
        mode = draw(st.sampled_from(["live"] * 8 + ["issued", "unissued"]))
        rfq = self.model.rfqs.get(rfq_id)
        live = [] if rfq is None else [quote_id for _, quote_id in self.model.live_quotes(rfq, self.now)]
        if mode == "live" and live:
            return draw(st.sampled_from(live))
        if mode in ("live", "issued") and self.model.next_quote_id > 1:
            return draw(st.integers(1, self.model.next_quote_id - 1))
        return self.model.next_quote_id + draw(st.integers(0, 2))

    def has_live_quote(self, rfq: Rfq) -> bool:
        return bool(self.model.live_quotes(rfq, self.now))

    # ---------------------------------------------------------------- operator commands

    def make_add_instrument(self, draw: Draw) -> AddInstrument:
        return AddInstrument(
            correlation_id=self.cid(),
            user_id=OPERATOR,
            min_quantity=draw(st.sampled_from([0, 100, 1_000, -1])),
            enabled=draw(st.sampled_from([BooleanType.TRUE, BooleanType.FALSE])),
            cusip=draw(st.sampled_from(GOOD_CUSIPS + BAD_CUSIPS)),
        )

    def make_query_state(self, draw: Draw) -> QueryState:
        """A gateway asks for the state (as one does when it starts)."""
        return QueryState(correlation_id=self.cid(), user_id=draw(st.sampled_from([OPERATOR, *USERS])))

    def make_enable_instrument(self, draw: Draw) -> EnableInstrument:
        """Half the time, disable the instrument of an active RFQ (open or overdue); else any id, any way."""
        busy = sorted({rfq.instrument_id for rfq in self.model.active_rfqs()})
        if bool(busy) and draw(st.booleans()):
            instrument_id, enabled = draw(st.sampled_from(busy)), BooleanType.FALSE
        else:
            instrument_id = draw(st.integers(1, self.model.next_instrument_id))
            enabled = draw(st.sampled_from([BooleanType.TRUE, BooleanType.FALSE]))
        return EnableInstrument(
            correlation_id=self.cid(), user_id=OPERATOR, instrument_id=instrument_id, enabled=enabled
        )

    # ---------------------------------------------------------------- requester commands

    def make_create_rfq(self, draw: Draw) -> CreateRfq:
        requester = draw(st.sampled_from(USERS))
        others = [user for user in USERS if user != requester]
        dealers: list[int] = draw(st.lists(st.sampled_from(others), min_size=1, max_size=6, unique=True))
        fault = draw(
            st.sampled_from(
                [None] * 12
                + [
                    "no_dealers",
                    "too_many_dealers",
                    "duplicate_dealer",
                    "requester_as_dealer",
                    "quantity",
                    "below_minimum",
                    "expiry",
                    "instrument",
                    "cl_ord_id",
                ]
            )
        )
        instruments = self.model.instruments
        enabled = [i for i, instrument in sorted(instruments.items()) if instrument.enabled]
        instrument_id = draw(st.sampled_from(enabled or [1]))
        quantity = draw(st.sampled_from([100, 1_000, 5_000_000]))
        expire = self.now + draw(st.sampled_from([1, 1_000, 5_000, 20_000, 60_000, 60_000]))
        cl_ord_id = f"C{self.sequence}"
        if fault == "no_dealers":
            dealers = []
        elif fault == "too_many_dealers":
            dealers = [*dealers, *range(100, 100 + MAX_DEALERS)]
        elif fault == "duplicate_dealer":
            dealers = [*dealers, draw(st.sampled_from(dealers))]
        elif fault == "requester_as_dealer":
            dealers.insert(draw(st.integers(0, len(dealers))), requester)
        elif fault == "quantity":
            quantity = draw(st.sampled_from([0, -5]))
        elif fault == "below_minimum":
            instrument_id, quantity = 1, 99
        elif fault == "expiry":
            expire = self.now - draw(st.sampled_from([0, 1]))
        elif fault == "instrument":
            instrument_id = draw(st.integers(1, self.model.next_instrument_id))
        elif fault == "cl_ord_id":
            cl_ord_id = "C\x01"
        return CreateRfq(
            correlation_id=self.cid(),
            user_id=requester,
            instrument_id=instrument_id,
            side=draw(st.sampled_from([Side.BUY, Side.SELL])),
            quantity=quantity,
            expire_time_ms=expire,
            cl_ord_id=cl_ord_id,
            dealers=[CreateRfqDealers(dealer_user_id=dealer) for dealer in dealers],
        )

    def make_counter_quote(self, draw: Draw) -> CounterQuote:
        rfq_id = self.pick_rfq(draw, self.has_live_quote)
        return CounterQuote(
            correlation_id=self.cid(),
            user_id=self.pick_requester(draw, rfq_id),
            rfq_id=rfq_id,
            quote_id=self.pick_quote_id(draw, rfq_id),
            price=self.price(draw),
        )

    def make_accept_quote(self, draw: Draw) -> AcceptQuote:
        rfq_id = self.pick_rfq(draw, self.has_live_quote)
        return AcceptQuote(
            correlation_id=self.cid(),
            user_id=self.pick_requester(draw, rfq_id),
            rfq_id=rfq_id,
            quote_id=self.pick_quote_id(draw, rfq_id),
        )

    def make_cancel_rfq(self, draw: Draw) -> CancelRfq:
        rfq_id = self.pick_rfq(draw)
        return CancelRfq(correlation_id=self.cid(), user_id=self.pick_requester(draw, rfq_id), rfq_id=rfq_id)

    # ---------------------------------------------------------------- dealer commands

    def price(self, draw: Draw) -> int:
        price: int = draw(st.sampled_from(PRICES * 4 + (0, -1)))
        return price

    def make_submit_quote(self, draw: Draw, requote: bool = False) -> SubmitQuote:
        """A quote; ``requote`` prefers a dealer that already quotes (so the new quote replaces one)."""

        def quoting(rfq: Rfq) -> bool:
            return any(seat.state == DealerState.QUOTED for seat in rfq.seats)

        rfq_id = self.pick_rfq(draw, quoting if requote else None)
        rfq = self.model.rfqs.get(rfq_id)
        quoted = [] if rfq is None else [s.dealer for s in rfq.seats if s.state == DealerState.QUOTED]
        if requote and quoted and draw(st.booleans()):
            dealer = draw(st.sampled_from(quoted))
        else:
            dealer = self.pick_dealer(draw, rfq_id)
        deadline = rfq.deadline if rfq is not None else self.now + 10_000
        validities = [None] * 5 + ["soon", "later", "later", "deadline", "now", "past_deadline"]
        validity = draw(st.sampled_from(validities))
        valid_until = {
            None: None,
            "soon": self.now + 1,
            "later": self.now + 2_000,
            "deadline": deadline,
            "now": self.now,
            "past_deadline": deadline + 1,
        }[validity]
        return SubmitQuote(
            correlation_id=self.cid(),
            user_id=dealer,
            rfq_id=rfq_id,
            price=self.price(draw),
            valid_until_ms=valid_until,
        )

    def make_withdraw_quote(self, draw: Draw) -> WithdrawQuote:
        rfq_id = self.pick_rfq(draw, self.has_live_quote)
        rfq = self.model.rfqs.get(rfq_id)
        live: list[int] = [] if rfq is None else [s.dealer for s, _ in self.model.live_quotes(rfq, self.now)]
        if bool(live) and draw(st.booleans()):
            dealer = draw(st.sampled_from(live))
        else:
            dealer = self.pick_dealer(draw, rfq_id)
        return WithdrawQuote(correlation_id=self.cid(), user_id=dealer, rfq_id=rfq_id)

    def make_pass_rfq(self, draw: Draw) -> PassRfq:
        rfq_id = self.pick_rfq(draw)
        return PassRfq(correlation_id=self.cid(), user_id=self.pick_dealer(draw, rfq_id), rfq_id=rfq_id)

    def make_accept_counter(self, draw: Draw) -> AcceptCounter:
        """Mostly the dealer of a live counter accepting it; sometimes a wrong dealer or counter id."""
        countered = [
            (rfq.rfq_id, seat.dealer, seat.counter_id)
            for rfq in self.open_rfqs()
            for seat in rfq.seats
            if seat.counter_id is not None
        ]
        if countered and draw(st.sampled_from([True] * 4 + [False])):
            rfq_id, dealer, counter_id = draw(st.sampled_from(countered))
        else:
            rfq_id = self.pick_rfq(draw)
            dealer = self.pick_dealer(draw, rfq_id)
            counter_id = self.model.next_quote_id  # never issued
        mode = draw(st.sampled_from(["as is"] * 6 + ["issued", "unissued"]))
        if mode == "issued" and self.model.next_quote_id > 1:
            counter_id = draw(st.integers(1, self.model.next_quote_id - 1))
        elif mode == "unissued":
            counter_id = self.model.next_quote_id + draw(st.integers(0, 2))
        return AcceptCounter(correlation_id=self.cid(), user_id=dealer, rfq_id=rfq_id, counter_id=counter_id)

    # ---------------------------------------------------------------- resends, reuse, time

    def make_resend(self, draw: Draw) -> Any | None:
        """An earlier command again, unchanged (a gateway's resend)."""
        return draw(st.sampled_from(self.sent)) if self.sent else None

    def make_reuse(self, draw: Draw) -> Any | None:
        """A new command under the correlation id of an earlier, different one."""
        if not self.sent:
            return None
        original = draw(st.sampled_from(self.sent))
        makers: list[Callable[[Draw], Any]] = [
            self.make_cancel_rfq,
            self.make_pass_rfq,
            self.make_withdraw_quote,
        ]
        command = draw(st.sampled_from(makers))(draw)
        command.correlation_id = original.correlation_id
        return command

    def elapse(self, draw: Draw, to_boundary: bool = False) -> int:
        """Cluster time moves on (so deadlines and quote validities pass), sometimes exactly to the
        next deadline or quote validity, or to 1 ms before it; the new time."""
        boundaries = sorted(
            moment
            for rfq in self.model.active_rfqs()
            for moment in [rfq.deadline, *(seat.valid_until for seat in rfq.seats if seat.valid_until)]
            if moment > self.now
        )
        modes = ["boundary", "just before"] + ([] if to_boundary else ["step"] * 3)
        mode = draw(st.sampled_from(modes))
        if mode == "step" or not boundaries:
            self.now += draw(st.sampled_from(ELAPSED_MS))
        else:
            self.now = max(self.now, boundaries[0] - (mode == "just before"))
        return self.now


MAKERS = (
    ["create"] * 3
    + ["quote"] * 5
    + ["requote"] * 2
    + ["counter"] * 3
    + ["accept_quote"] * 2
    + ["accept_counter"] * 3
    + ["withdraw"] * 2
    + ["pass", "cancel", "add_instrument", "enable_instrument", "query", "resend", "reuse"]
    + ["time"] * 3
)
"""Kinds of log entry, weighted toward the commands that make RFQs go somewhere."""


RFQ_KINDS = ("quote", "requote", "counter", "accept_quote", "accept_counter", "withdraw", "pass", "cancel")


def nudge(scenario: Scenario, kind: str, draw: Draw) -> str:
    """Mostly, a command with nothing to act on becomes the one that would make that something: with
    no open RFQ, a create; with no live quote to counter, hit or withdraw, a quote; with no counter to
    accept, a counter. (Otherwise most runs would be refusals before the first quote.)"""
    if kind not in RFQ_KINDS or not draw(st.sampled_from([True] * 4 + [False])):
        return kind
    open_rfqs = scenario.open_rfqs()
    if not open_rfqs:
        return "create"
    if kind in ("counter", "accept_quote", "withdraw") and not any(map(scenario.has_live_quote, open_rfqs)):
        return "quote"
    if kind == "accept_counter" and not any(seat.counter_id for rfq in open_rfqs for seat in rfq.seats):
        return "counter" if any(map(scenario.has_live_quote, open_rfqs)) else "quote"
    return kind


def make(scenario: Scenario, kind: str, draw: Draw) -> Any | None:
    """A command of ``kind`` (one of ``MAKERS`` but "time"), or of the kind ``nudge`` turns it into;
    None when there is nothing to resend."""
    kind = nudge(scenario, kind, draw)
    makers: dict[str, Callable[[Draw], Any]] = {
        "create": scenario.make_create_rfq,
        "quote": scenario.make_submit_quote,
        "requote": lambda d: scenario.make_submit_quote(d, requote=True),
        "counter": scenario.make_counter_quote,
        "accept_quote": scenario.make_accept_quote,
        "accept_counter": scenario.make_accept_counter,
        "withdraw": scenario.make_withdraw_quote,
        "pass": scenario.make_pass_rfq,
        "cancel": scenario.make_cancel_rfq,
        "add_instrument": scenario.make_add_instrument,
        "enable_instrument": scenario.make_enable_instrument,
        "query": scenario.make_query_state,
        "resend": scenario.make_resend,
        "reuse": scenario.make_reuse,
    }
    return makers[kind](draw)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One entry of a replicated log, at a cluster time: a command, or (command None) the moment the
    service is handed the timers due by then."""

    time_ms: int
    command: Any = None

    @property
    def is_tick(self) -> bool:
        return self.command is None


@st.composite
def command_logs(draw: Any, max_commands: int = 40) -> list[Entry]:
    """A log of commands and timer ticks, each drawn against the model's state at that point (so the
    log goes where real ones go: quotes, counters, trades, expiries, resends)."""
    scenario = Scenario(ReferenceModel())
    log: list[Entry] = []
    for command in scenario.setup():
        scenario.apply(command)
        log.append(Entry(scenario.now, command))
    for _ in range(draw(st.integers(1, max_commands))):
        kind = draw(st.sampled_from(MAKERS))
        if kind == "time":
            scenario.elapse(draw)
            if draw(st.booleans()):  # timers may be delivered late, after commands past the deadline
                for rfq_id in scenario.model.due_timers(scenario.now):
                    scenario.model.on_timer(rfq_id, scenario.now)
                log.append(Entry(scenario.now))
            continue
        command = make(scenario, kind, draw)
        if command is not None:
            scenario.apply(command)
            log.append(Entry(scenario.now, command))
    return log


def describe(log: Sequence[Entry]) -> str:
    """A log as lines to read in a failure message."""
    return "\n".join(
        f"  t+{entry.time_ms - START_MS}: {'timers due' if entry.is_tick else entry.command!r}"
        for entry in log
    )
