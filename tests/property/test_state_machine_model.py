"""The state machine against a small, independent reference model, on random command sequences.

Hypothesis drives both with the same commands — valid and invalid ones (unknown ids, wrong users, bad
prices and quantities, past expiries, bad CUSIPs), resends of earlier commands, cluster time moving on
with timers firing late or on time, and snapshot/restore mid-run — and checks after every step:
- every command gets exactly one outcome, equal to the model's (events, audience, duplicate flag);
- a refused command yields one CommandRejected to its sender and changes no state and no timer;
- a duplicate gets the original events, to the sender, and changes nothing;
- RFQ states (as the events tell them) move only along the lifecycle; at most one trade and one end
  per RFQ; the pending timers are exactly the active RFQs' expiries.

The model is written apart from the implementation: it keeps every RFQ forever with its state as a
string, recomputes timers from the RFQs, and states each rule as one conditional expression.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from rfq.cluster.domain import Audience, InMemoryTimers, Outcome, StateMachine
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
    Side,
    decode,
    encode,
)

R = RejectReason
USERS = [1, 2, 3, 4]
GOOD_CUSIPS = ["037833100", "38259P508", "594918104", "46625H100"]
BAD_CUSIPS = ["037833109", "38259p508", "ABC"]
ACTIVE = ("CREATED", "QUOTED", "COUNTERED")
LIFECYCLE = {
    None: {"CREATED"},
    "CREATED": {"QUOTED", "CANCELED", "EXPIRED"},
    "QUOTED": {"COUNTERED", "ACCEPTED", "REJECTED", "CANCELED", "EXPIRED"},
    "COUNTERED": {"COUNTERED", "ACCEPTED", "REJECTED", "CANCELED", "EXPIRED"},
}
EVENT_STATE = {
    RfqCreated: "CREATED",
    RfqQuoted: "QUOTED",
    RfqCountered: "COUNTERED",
    RfqAccepted: "ACCEPTED",
    RfqRejected: "REJECTED",
    RfqCanceled: "CANCELED",
    RfqExpired: "EXPIRED",
}


# ====================================================================== the reference model


@dataclasses.dataclass
class ModelInstrument:
    cusip: str
    min_quantity: int
    enabled: bool


@dataclasses.dataclass
class ModelRfq:
    rfq_id: int
    requester: int
    instrument_id: int
    side: Side
    quantity: int
    expire: int
    state: str = "CREATED"
    responder: int | None = None
    last_by: int | None = None
    price: int | None = None


def valid_user(user: int) -> bool:
    return 1 <= user < 2**31


class Model:
    """The rules as the issue states them, on plain data."""

    def __init__(self, dedupe_capacity: int) -> None:
        self.instruments: dict[int, ModelInstrument] = {}
        self.rfqs: dict[int, ModelRfq] = {}
        self.answers: dict[int, tuple[Any, ...]] = {}
        self.dedupe_capacity = dedupe_capacity

    @property
    def next_rfq_id(self) -> int:
        return len(self.rfqs) + 1

    def live(self, rfq: ModelRfq, now: int) -> bool:
        return rfq.state in ACTIVE and now < rfq.expire

    def pending_timers(self) -> dict[int, int]:
        return {r.rfq_id: r.expire for r in self.rfqs.values() if r.state in ACTIVE}

    def apply(self, command: Any, now: int) -> Outcome:
        cid = command.correlation_id
        if cid in self.answers:
            return Outcome(self.answers[cid], Audience.SENDER, True)
        handlers: dict[type, Callable[[Any, int], Any]] = {
            AddInstrument: self.add,
            EnableInstrument: self.enable,
            CreateRfq: self.create,
            QuoteRfq: self.act,
            CounterRfq: self.act,
            AcceptRfq: self.act,
            RejectRfq: self.act,
            CancelRfq: self.act,
        }
        result = handlers[type(command)](command, now)
        if isinstance(result, RejectReason):
            user = command.user_id
            events: tuple[Any, ...] = (
                CommandRejected(
                    correlation_id=cid,
                    user_id=user if valid_user(user) else None,
                    template_id=command.TEMPLATE_ID,
                    reason=result,
                    timestamp_ms=now,
                ),
            )
            outcome = Outcome(events, Audience.SENDER)
        else:
            outcome = Outcome(tuple(result), Audience.BROADCAST)
        self.answers[cid] = outcome.events
        if len(self.answers) > self.dedupe_capacity:
            del self.answers[next(iter(self.answers))]
        return outcome

    def add(self, c: AddInstrument, now: int) -> Any:
        reason = (
            R.INVALID_FIELD
            if not valid_user(c.user_id)
            else R.INVALID_QUANTITY
            if c.min_quantity < 0
            else R.INVALID_CUSIP
            if c.cusip not in GOOD_CUSIPS
            else R.DUPLICATE_INSTRUMENT
            if any(i.cusip == c.cusip for i in self.instruments.values())
            else None
        )
        if reason is not None:
            return reason
        instrument_id = len(self.instruments) + 1
        self.instruments[instrument_id] = ModelInstrument(c.cusip, c.min_quantity, c.enabled == 1)
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

    def enable(self, c: EnableInstrument, now: int) -> Any:
        instrument = self.instruments.get(c.instrument_id)
        reason = (
            R.INVALID_FIELD
            if not valid_user(c.user_id)
            else R.UNKNOWN_INSTRUMENT
            if instrument is None
            else R.NO_CHANGE
            if instrument.enabled == (c.enabled == 1)
            else None
        )
        if reason is not None:
            return reason
        assert instrument is not None
        instrument.enabled = c.enabled == 1
        events: list[Any] = [
            InstrumentEnabled(
                correlation_id=c.correlation_id,
                instrument_id=c.instrument_id,
                enabled=c.enabled,
                timestamp_ms=now,
            )
        ]
        if not instrument.enabled:
            for rfq_id in sorted(self.rfqs):
                rfq = self.rfqs[rfq_id]
                if rfq.instrument_id == c.instrument_id and self.live(rfq, now):
                    rfq.state = "CANCELED"
                    events.append(
                        RfqCanceled(
                            correlation_id=c.correlation_id,
                            rfq_id=rfq_id,
                            requester_user_id=rfq.requester,
                            responder_user_id=rfq.responder,
                            reason=CancelReason.INSTRUMENT_DISABLED,
                            timestamp_ms=now,
                        )
                    )
        return events

    def create(self, c: CreateRfq, now: int) -> Any:
        instrument = self.instruments.get(c.instrument_id)
        reason = (
            R.INVALID_FIELD
            if not valid_user(c.user_id) or len(c.cl_ord_id) > 20
            else R.INVALID_QUANTITY
            if c.quantity <= 0
            else R.EXPIRY_NOT_IN_FUTURE
            if c.expire_time_ms <= now
            else R.UNKNOWN_INSTRUMENT
            if instrument is None
            else R.INSTRUMENT_DISABLED
            if not instrument.enabled
            else R.QUANTITY_BELOW_MINIMUM
            if c.quantity < instrument.min_quantity
            else None
        )
        if reason is not None:
            return reason
        rfq = ModelRfq(self.next_rfq_id, c.user_id, c.instrument_id, c.side, c.quantity, c.expire_time_ms)
        self.rfqs[rfq.rfq_id] = rfq
        return [
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
            )
        ]

    def act(self, c: Any, now: int) -> Any:
        kind = type(c)
        rfq = self.rfqs.get(c.rfq_id)
        user = c.user_id
        price = getattr(c, "price", 1)
        if not valid_user(user):
            return R.INVALID_FIELD
        if price <= 0:
            return R.INVALID_PRICE
        if rfq is None:
            return R.UNKNOWN_RFQ
        if not self.live(rfq, now):
            return R.RFQ_NOT_ACTIVE
        parties = (rfq.requester, rfq.responder)
        reason = (
            (R.OWN_RFQ if user == rfq.requester else R.ALREADY_QUOTED if rfq.responder else None)
            if kind is QuoteRfq
            else (R.NOT_REQUESTER if user != rfq.requester else None)
            if kind is CancelRfq
            else R.NOT_A_PARTY
            if user not in parties
            else R.NO_PRICE_TO_ACT_ON
            if rfq.price is None
            else R.OWN_PRICE
            if rfq.last_by == user
            else None
        )
        if reason is not None:
            return reason
        common: dict[str, Any] = {
            "correlation_id": c.correlation_id,
            "rfq_id": rfq.rfq_id,
            "timestamp_ms": now,
        }
        if kind is QuoteRfq:
            rfq.state, rfq.responder, rfq.last_by, rfq.price = "QUOTED", user, user, price
            return [RfqQuoted(**common, requester_user_id=rfq.requester, responder_user_id=user, price=price)]
        if kind is CounterRfq:
            assert rfq.responder is not None  # the rules above guarantee a price, so a responder
            rfq.state, rfq.last_by, rfq.price = "COUNTERED", user, price
            return [
                RfqCountered(
                    **common,
                    requester_user_id=rfq.requester,
                    responder_user_id=rfq.responder,
                    countered_by_user_id=user,
                    price=price,
                )
            ]
        if kind is AcceptRfq:
            rfq.state = "ACCEPTED"
            assert rfq.responder is not None
            assert rfq.price is not None
            buyer = rfq.requester if rfq.side == Side.BUY else rfq.responder
            seller = rfq.responder if buyer == rfq.requester else rfq.requester
            return [
                RfqAccepted(
                    **common,
                    requester_user_id=rfq.requester,
                    responder_user_id=rfq.responder,
                    accepted_by_user_id=user,
                    buyer_user_id=buyer,
                    seller_user_id=seller,
                    instrument_id=rfq.instrument_id,
                    price=rfq.price,
                    quantity=rfq.quantity,
                )
            ]
        if kind is RejectRfq:
            rfq.state = "REJECTED"
            assert rfq.responder is not None
            return [
                RfqRejected(
                    **common,
                    requester_user_id=rfq.requester,
                    responder_user_id=rfq.responder,
                    rejected_by_user_id=user,
                )
            ]
        rfq.state = "CANCELED"
        return [
            RfqCanceled(
                **common,
                requester_user_id=rfq.requester,
                responder_user_id=rfq.responder,
                reason=CancelReason.REQUESTER,
            )
        ]

    def due(self, now: int) -> list[int]:
        """The RFQ ids whose timers are due, in firing order (deadline, then id)."""
        return [i for d, i in sorted((d, i) for i, d in self.pending_timers().items() if d <= now)]

    def expire(self, rfq_id: int, now: int) -> tuple[Any, ...]:
        rfq = self.rfqs[rfq_id]
        rfq.state = "EXPIRED"
        return (
            RfqExpired(
                rfq_id=rfq_id,
                requester_user_id=rfq.requester,
                responder_user_id=rfq.responder,
                timestamp_ms=now,
            ),
        )


# ====================================================================== the test machine


# Most commands are well formed, so that RFQs get far into their lifecycle; a fault (one or two) breaks
# the rest: bad fields, unknown ids, wrong users, past expiries. "counterparty" is the party who did not
# put the last price on the table: the one whose counter, accept or reject should go through.
ROLES = st.sampled_from(["counterparty"] * 4 + ["requester", "responder", "other", "invalid"])
PICK = st.integers(0, 1_000)
PRICES = st.sampled_from([99_50_000_000, 100 * 10**8, 100 * 10**8 + 1, 1, 10**15])
TARGET_ACTIVE = st.sampled_from([True, True, True, False])
CREATE_FAULTS = st.lists(
    st.sampled_from(
        [None] * 40
        + [
            "user",
            "instrument",
            "no_instrument",
            "quantity",
            "negative",
            "below_min",
            "expired",
            "now",
            "cl_ord_id",
        ]
    ),
    min_size=2,
    max_size=2,
)
PRICE_FAULTS = st.sampled_from([None] * 12 + [0, -5, -(2**63) + 1])
RESPONSES = st.sampled_from(["quote"] * 3 + ["counter"] * 3 + ["accept"] * 2 + ["reject"])


class StateMachineAgainstModel(RuleBasedStateMachine):
    dedupe_capacity = 100_000

    def __init__(self) -> None:
        super().__init__()
        self.timers = InMemoryTimers()
        self.sm = StateMachine(self.timers, self.dedupe_capacity)
        self.model = Model(self.dedupe_capacity)
        self.now = 1_700_000_000_000
        self.next_cid = 0
        self.history: list[Any] = []
        self.seen_state: dict[int, str] = {}
        self.trades: Counter[int] = Counter()
        self.ends: Counter[int] = Counter()

    # ---------------------------------------------------------------- helpers

    def cid(self) -> int:
        self.next_cid += 1
        return self.next_cid * 1_000_003  # sparse and large: correlation ids are the gateway's choice

    def domain_state(self) -> tuple[Any, ...]:
        instruments = [(i.instrument_id, i.cusip, i.min_quantity, i.enabled) for i in self.sm.instruments]
        rfqs = [
            (r.rfq_id, r.state, r.responder_user_id, r.last_price_user_id, r.price, r.expire_time_ms)
            for r in self.sm.rfqs
        ]
        return (
            self.sm.instruments.next_instrument_id,
            self.sm.rfqs.next_rfq_id,
            instruments,
            rfqs,
            self.timers.pending(),
        )

    def observe(self, events: tuple[Any, ...]) -> None:
        for happened in events:
            new = EVENT_STATE.get(type(happened))
            if new is None:
                continue
            old = self.seen_state.get(happened.rfq_id)
            assert new in LIFECYCLE.get(old, set()), f"rfq {happened.rfq_id}: {old} → {new}"
            self.seen_state[happened.rfq_id] = new
            if new == "ACCEPTED":
                self.trades[happened.rfq_id] += 1
            if new not in ACTIVE:
                self.ends[happened.rfq_id] += 1

    def run(self, command: Any) -> None:
        before = self.domain_state()
        dedupe_before = list(self.sm.dedupe)
        expected = self.model.apply(command, self.now)
        outcome = self.sm.apply(command, self.now)
        assert isinstance(outcome, Outcome)
        assert len(outcome.events) >= 1
        assert outcome == expected, f"\n  got      {outcome}\n  expected {expected}"
        first: Any = outcome.events[0]
        event(
            "duplicate"
            if outcome.duplicate
            else f"refused {first.reason.name}"
            if outcome.refused
            else type(outcome.events[-1]).__name__
        )
        if outcome.duplicate:
            assert outcome.audience is Audience.SENDER
            assert self.domain_state() == before
            assert list(self.sm.dedupe) == dedupe_before
            return
        if outcome.refused:
            assert len(outcome.events) == 1
            assert outcome.audience is Audience.SENDER
            assert self.domain_state() == before
        else:
            assert not any(isinstance(e, CommandRejected) for e in outcome.events)
            assert outcome.audience is Audience.BROADCAST
        self.observe(outcome.events)
        self.history.append(command)

    def rfq_target(self, active_only: bool, pick: int) -> int:
        active = [i for i, r in sorted(self.model.rfqs.items()) if r.state in ACTIVE]
        if active_only and active:
            return active[pick % len(active)]
        return pick % (self.model.next_rfq_id + 1)  # 0 and next_rfq_id are unknown ids

    def user_for(self, rfq_id: int, role: str, pick: int) -> int:
        rfq = self.model.rfqs.get(rfq_id)
        if role == "invalid":
            return 0
        if rfq is None:
            return USERS[pick % len(USERS)]
        if role == "counterparty" and rfq.responder is not None:
            return rfq.requester if rfq.last_by == rfq.responder else rfq.responder
        if role in ("requester", "counterparty"):
            return rfq.requester
        if role == "responder":
            return rfq.responder or next(u for u in USERS if u != rfq.requester)
        others = [u for u in USERS if u not in (rfq.requester, rfq.responder)]
        return others[pick % len(others)]

    # ---------------------------------------------------------------- rules: commands

    @initialize()
    def two_instruments(self) -> None:
        self.add_instrument(GOOD_CUSIPS[0], 100, True, 99)
        self.add_instrument(GOOD_CUSIPS[1], 0, True, 99)

    def add_instrument(self, cusip: str, min_quantity: int, enabled: bool, user: int) -> None:
        flag = BooleanType.TRUE if enabled else BooleanType.FALSE
        self.run(
            AddInstrument(
                correlation_id=self.cid(), user_id=user, min_quantity=min_quantity, enabled=flag, cusip=cusip
            )
        )

    @rule(
        add=st.booleans(),
        cusip=st.sampled_from(GOOD_CUSIPS + BAD_CUSIPS),
        min_quantity=st.sampled_from([0, 100, 1_000, -1]),
        instrument_id=st.integers(0, 5),
        enabled=st.booleans(),
        user=st.sampled_from([99, 99, 99, 0]),
    )
    def operator(
        self, add: bool, cusip: str, min_quantity: int, instrument_id: int, enabled: bool, user: int
    ) -> None:
        """An operator adds an instrument, or enables or disables one."""
        if add:
            self.add_instrument(cusip, min_quantity, enabled, user)
            return
        flag = BooleanType.TRUE if enabled else BooleanType.FALSE
        self.run(
            EnableInstrument(
                correlation_id=self.cid(), user_id=user, instrument_id=instrument_id, enabled=flag
            )
        )

    @rule(
        user=st.sampled_from(USERS),
        instrument_id=st.sampled_from([1, 1, 2, 3]),
        side=st.sampled_from([Side.BUY, Side.SELL]),
        quantity=st.sampled_from([100, 500, 5_000, 1_000_000]),
        expires_in_ms=st.sampled_from([1, 1_000, 5_000, 20_000, 60_000]),
        faults=CREATE_FAULTS,
    )
    def create_rfq(
        self, user: int, instrument_id: int, side: Side, quantity: int, expires_in_ms: int, faults: list[str]
    ) -> None:
        cl_ord_id = f"C{self.next_cid}"
        for fault in faults:
            if fault == "user":
                user = 0
            elif fault == "instrument":
                instrument_id = 9
            elif fault == "no_instrument":
                instrument_id = 0
            elif fault == "quantity":
                quantity = 0
            elif fault == "negative":
                quantity = -3
            elif fault == "below_min":
                instrument_id, quantity = 1, 99
            elif fault == "expired":
                expires_in_ms = -1_000
            elif fault == "now":
                expires_in_ms = 0
            elif fault == "cl_ord_id":
                cl_ord_id = "X" * 21
        self.run(
            CreateRfq(
                correlation_id=self.cid(),
                user_id=user,
                instrument_id=instrument_id,
                side=side,
                quantity=quantity,
                expire_time_ms=self.now + expires_in_ms,
                cl_ord_id=cl_ord_id,
            )
        )

    @rule(kind=RESPONSES, active=TARGET_ACTIVE, pick=PICK, role=ROLES, price=PRICES, fault=PRICE_FAULTS)
    def respond(self, kind: str, active: bool, pick: int, role: str, price: int, fault: int | None) -> None:
        """Quote, counter, accept or reject (one rule, weighted, so that RFQs get far along)."""
        rfq_id = self.rfq_target(active, pick)
        price = price if fault is None else fault
        cid = self.cid()
        if kind == "quote":
            user = self.user_for(rfq_id, "other" if role in ("counterparty", "responder") else role, pick)
            self.run(QuoteRfq(correlation_id=cid, user_id=user, rfq_id=rfq_id, price=price))
            return
        user = self.user_for(rfq_id, role, pick)
        if kind == "counter":
            self.run(CounterRfq(correlation_id=cid, user_id=user, rfq_id=rfq_id, price=price))
        elif kind == "accept":
            self.run(AcceptRfq(correlation_id=cid, user_id=user, rfq_id=rfq_id))
        else:
            self.run(RejectRfq(correlation_id=cid, user_id=user, rfq_id=rfq_id))

    @rule(
        requester=st.sampled_from(USERS),
        responder=st.sampled_from(USERS),
        side=st.sampled_from([Side.BUY, Side.SELL]),
        moves=st.lists(
            st.sampled_from(["counter", "counter", "accept", "reject", "cancel", "wait"]), max_size=5
        ),
    )
    def negotiate(self, requester: int, responder: int, side: Side, moves: list[str]) -> None:
        """A whole negotiation in one step: create, quote, then counters and an ending by the right party
        (interleaved with the other rules' noise, this is what gets RFQs to trades and rejections)."""
        rfq_id = self.model.next_rfq_id
        self.run(
            CreateRfq(
                correlation_id=self.cid(),
                user_id=requester,
                instrument_id=2,
                side=side,
                quantity=1_000,
                expire_time_ms=self.now + 10_000,
                cl_ord_id="N",
            )
        )
        self.run(QuoteRfq(correlation_id=self.cid(), user_id=responder, rfq_id=rfq_id, price=100 * 10**8))
        for move in moves:
            user = self.user_for(rfq_id, "counterparty", 0)
            cid = self.cid()
            if move == "counter":
                self.run(
                    CounterRfq(correlation_id=cid, user_id=user, rfq_id=rfq_id, price=99 * 10**8 + cid % 97)
                )
            elif move == "accept":
                self.run(AcceptRfq(correlation_id=cid, user_id=user, rfq_id=rfq_id))
            elif move == "reject":
                self.run(RejectRfq(correlation_id=cid, user_id=user, rfq_id=rfq_id))
            elif move == "cancel":
                self.run(CancelRfq(correlation_id=cid, user_id=requester, rfq_id=rfq_id))
            else:
                self.now += 3_000

    @rule(active=TARGET_ACTIVE, pick=PICK, role=ROLES)
    def cancel(self, active: bool, pick: int, role: str) -> None:
        rfq_id = self.rfq_target(active, pick)
        user = self.user_for(rfq_id, role, pick)
        self.run(CancelRfq(correlation_id=self.cid(), user_id=user, rfq_id=rfq_id))

    @rule(pick=PICK)
    def resend(self, pick: int) -> None:
        if self.history:
            self.run(self.history[pick % len(self.history)])

    # ---------------------------------------------------------------- rules: time, timers, restarts

    @rule(elapsed_ms=st.sampled_from([0, 1, 500, 999, 1_000, 4_000, 20_000, 61_000]), deliver=st.booleans())
    def time_passes(self, elapsed_ms: int, deliver: bool) -> None:
        """Cluster time moves on; due timers are delivered now or at a later step (a timer event can be
        sequenced after commands stamped past its deadline)."""
        self.now += elapsed_ms
        if not deliver:
            return
        due = self.timers.pop_due(self.now)
        assert [rfq_id for rfq_id, _ in due] == self.model.due(self.now)
        for rfq_id, _deadline in due:
            events = self.sm.on_timer(rfq_id, self.now)
            event("RfqExpired")
            assert events == self.model.expire(rfq_id, self.now)
            self.observe(events)

    @rule(stale=PICK)
    def stale_timer_fires(self, stale: int) -> None:
        """A timer for an RFQ that has ended (or never existed) yields nothing and changes nothing."""
        ended = [i for i, r in self.model.rfqs.items() if r.state not in ACTIVE]
        rfq_id = ended[stale % len(ended)] if ended else self.model.next_rfq_id + stale
        before = self.domain_state()
        assert self.sm.on_timer(rfq_id, self.now) == ()
        assert self.domain_state() == before

    @rule()
    def snapshot_and_restart(self) -> None:
        """A node restarts from a snapshot: records go through the codec, Aeron restores the timers."""
        frames = [encode(record) for record in self.sm.snapshot()]
        timers = InMemoryTimers()
        restored = StateMachine.restore([decode(f) for f in frames], timers, self.dedupe_capacity)
        assert timers.pending() == {}  # restore schedules nothing ...
        for rfq_id, deadline in sorted(self.timers.pending().items()):
            timers.schedule(rfq_id, deadline)  # ... the consensus module brings its timers back
        assert [encode(record) for record in restored.snapshot()] == frames
        self.sm, self.timers = restored, timers

    # ---------------------------------------------------------------- invariants

    @invariant()
    def same_state_as_the_model(self) -> None:
        mine = {
            r.rfq_id: (r.state.name, r.requester_user_id, r.responder_user_id, r.last_price_user_id, r.price)
            for r in self.sm.rfqs
        }
        model = {
            r.rfq_id: (r.state, r.requester, r.responder, r.last_by, r.price)
            for r in self.model.rfqs.values()
            if r.state in ACTIVE
        }
        assert mine == model
        assert self.timers.pending() == self.model.pending_timers()
        assert [(i.instrument_id, i.enabled) for i in self.sm.instruments] == [
            (k, v.enabled) for k, v in sorted(self.model.instruments.items())
        ]

    @invariant()
    def one_trade_and_one_end_at_most(self) -> None:
        assert all(count == 1 for count in self.trades.values())
        assert all(count == 1 for count in self.ends.values())


class SmallWindowAgainstModel(StateMachineAgainstModel):
    """The same, with a dedupe window of 4: resends of evicted commands are applied again."""

    dedupe_capacity = 4


SETTINGS = settings(
    max_examples=500,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStateMachineAgainstModel = StateMachineAgainstModel.TestCase
TestStateMachineAgainstModel.settings = SETTINGS
TestSmallWindowAgainstModel = SmallWindowAgainstModel.TestCase
TestSmallWindowAgainstModel.settings = settings(SETTINGS, max_examples=100)
