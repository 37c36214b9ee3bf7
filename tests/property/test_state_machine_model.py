"""The state machine against the independent reference model, on random command sequences.

Hypothesis drives ``rfq.cluster.domain.StateMachine`` and ``reference_model.ReferenceModel`` side by side
with every command (add, enable and disable instruments; create RFQs with good and bad dealer lists;
quote, re-quote with and without a validity, withdraw, pass, counter, hit a quote, accept a counter,
cancel; query the state), with resends and reused correlation ids, with cluster time moving on
(deadlines and quote validities pass, sometimes to the millisecond; timers delivered on time or late;
stale and early timers) and with restarts from a snapshot. Most commands are aimed at open RFQs,
invited dealers and live quotes, and a ``negotiate`` rule walks one RFQ to a trade, so trades of
both kinds happen in most runs. It checks:

- every command's outcome equals the model's: the same events in the same order (so the same reasons,
  ids, prices, covers and correlation ids), the same audience and duplicate flag; every timer firing
  gives the model's events; ``QueryState`` answers hold the model's whole state;
- invariants read off the events alone: at most one ``RfqTraded`` pair per RFQ; a trade is at the
  price of the quote hit (live when hit) or of the dealer's current counter; no event but a refusal
  for an RFQ once it ended; only invited dealers ever appear as a quote's, pass's, counter's or
  trade's dealer;
- the active RFQs' expiries (``active_expiries`` and the pending timers) are the model's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from rfq.cluster.domain import InMemoryTimers, StateMachine
from rfq.codecs.rfq_sbe import (
    AcceptCounter,
    AcceptQuote,
    CommandRejected,
    CounterQuote,
    DealerPassed,
    PassRfq,
    QueryState,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqRecord,
    RfqTraded,
    SubmitQuote,
    TradeKind,
    WithdrawQuote,
    decode,
    encode,
)
from tests.property.reference_model import (
    PRICES,
    START_MS,
    Expected,
    ReferenceModel,
    Rfq,
    Scenario,
    Seat,
    make,
)

RFQ_EVENTS = (QuoteSubmitted, QuoteWithdrawn, DealerPassed, QuoteCountered, RfqTraded, RfqEnded, RfqInvited)


class EventWatch:
    """Invariants checked on the implementation's events alone (no model involved)."""

    def __init__(self) -> None:
        self.requester: dict[int, int] = {}
        self.invited: dict[int, set[int]] = {}
        self.ended: set[int] = set()
        self.traded: Counter[int] = Counter()
        # (rfq id, dealer) → its current quote (id, price, valid until); the counter to it (id, price)
        self.quotes: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.counters: dict[tuple[int, int], tuple[int, int]] = {}

    def observe(self, events: tuple[Any, ...]) -> None:
        """The events of one outcome that changed state (not a duplicate's)."""
        ending: set[int] = set()
        for e in events:
            if isinstance(e, CommandRejected) or not hasattr(e, "rfq_id"):
                continue
            rfq_id = e.rfq_id
            assert rfq_id not in self.ended, f"{e!r} after RFQ {rfq_id} ended"
            if isinstance(e, RfqCreated):
                self.requester[rfq_id] = e.requester_user_id
                self.invited[rfq_id] = {d.dealer_user_id for d in e.dealers}
                continue
            assert rfq_id in self.invited, f"{e!r} for an RFQ never created"
            if isinstance(e, RFQ_EVENTS) and not isinstance(e, RfqEnded):
                dealer = e.dealer_user_id
                assert dealer in self.invited[rfq_id], f"{e!r}: dealer {dealer} was not invited"
            if isinstance(e, RfqTraded):
                self.traded[rfq_id] += 1
                assert self.traded[rfq_id] <= 2, f"a second trade on RFQ {rfq_id}: {e!r}"
                ending.add(rfq_id)
            if isinstance(e, RfqInvited) or e.recipient_user_id != self.requester[rfq_id]:
                continue  # the requester's copies tell every change once
            self.follow(e, ending)
        for rfq_id in ending:
            if rfq_id in self.traded:
                assert self.traded[rfq_id] == 2, f"RFQ {rfq_id} traded without a pair of RfqTraded"
        self.ended |= ending

    def follow(self, e: Any, ending: set[int]) -> None:
        """Track quotes and counters from the requester's copies; check a trade's price against them."""
        key = (e.rfq_id, getattr(e, "dealer_user_id", 0))
        if isinstance(e, QuoteSubmitted):
            self.quotes[key] = (e.quote_id, e.price, e.valid_until_ms)
            self.counters.pop(key, None)
        elif isinstance(e, QuoteWithdrawn | DealerPassed):
            self.quotes.pop(key, None)
            self.counters.pop(key, None)
        elif isinstance(e, QuoteCountered):
            assert self.quotes.get(key, (None,))[0] == e.quote_id, f"{e!r} counters no current quote"
            self.counters[key] = (e.counter_id, e.price)
        elif isinstance(e, RfqTraded):
            if e.kind == TradeKind.QUOTE_HIT:
                assert key in self.quotes, f"{e!r} hits no current quote"
                quote_id, price, valid_until = self.quotes[key]
                assert (e.quote_id, e.price) == (quote_id, price), (
                    f"{e!r} not at the quote {quote_id} @ {price}"
                )
                assert e.timestamp_ms < valid_until, f"{e!r} hits a quote valid until {valid_until}"
            else:
                assert self.counters.get(key) == (e.quote_id, e.price), f"{e!r} not at the live counter"
        elif isinstance(e, RfqEnded):
            ending.add(e.rfq_id)


def effective_validity(events: tuple[Any, ...]) -> tuple[Any, ...]:
    """``QueryState``'s RfqRecords with each quote's ``valid_until_ms`` as its effective validity: the
    spec leaves open whether a quote without its own validity is recorded with None or the deadline."""
    normal: list[Any] = []
    for e in events:
        if isinstance(e, RfqRecord):
            record = decode(encode(e))  # a copy
            assert isinstance(record, RfqRecord)
            for dealer in record.dealers:
                if dealer.quote_id is not None and dealer.valid_until_ms is None:
                    dealer.valid_until_ms = record.expire_time_ms
            normal.append(record)
        else:
            normal.append(e)
    return tuple(normal)


def show(events: tuple[Any, ...]) -> str:
    return "".join(f"\n      {e!r}" for e in events)


CLOSES = [
    "hit",
    "counter",
    "counter and accept",
    "counter twice and accept",
    "counter twice, accept the first",
]


class StateMachineAgainstModel(RuleBasedStateMachine):
    """Each rule builds one command (or moves time) and checks the machine against the model."""

    def __init__(self) -> None:
        super().__init__()
        self.timers = InMemoryTimers()
        self.sm = StateMachine(self.timers)
        self.model = ReferenceModel()
        self.scenario = Scenario(self.model)
        self.watch = EventWatch()
        self.steps: list[str] = []  # the run so far, readable, for failure messages

    # ---------------------------------------------------------------- helpers

    def fail(self, what: str, got: Any, want: Any) -> None:
        history = "\n".join(f"  {line}" for line in self.steps)
        raise AssertionError(f"{what}\n  got:      {got}\n  expected: {want}\n the run:\n{history}")

    def make(self, kind: str, data: st.DataObject) -> None:
        """Build a command of ``kind`` (or the kind ``reference_model.nudge`` turns it into) and run it."""
        self.run(make(self.scenario, kind, data.draw))

    def run(self, command: Any | None) -> None:
        """Apply ``command`` to both and compare (None: there was nothing to build)."""
        if command is None:
            return
        now = self.scenario.now
        self.steps.append(f"t+{now - START_MS}: {command!r}")
        expected: Expected = self.scenario.apply(command)
        outcome = self.sm.apply(command, now)
        events = effective_validity(tuple(outcome.events))
        got = (outcome.audience.name, outcome.duplicate, show(events))
        want = (expected.audience, expected.duplicate, show(expected.events))
        if got != want or events != expected.events:
            self.fail("outcome differs from the model's", got, want)
        self.label(expected)
        if not expected.duplicate and not isinstance(command, QueryState):
            self.watch.observe(tuple(outcome.events))

    def label(self, expected: Expected) -> None:
        first = expected.events[0]
        if expected.duplicate:
            event("duplicate")
        elif isinstance(first, CommandRejected):
            event(f"refused {first.reason.name}")
        else:
            traded = [e for e in expected.events if isinstance(e, RfqTraded)]
            event(f"trade {traded[0].kind.name}" if traded else type(first).__name__)

    def fire(self, rfq_id: int) -> None:
        now = self.scenario.now
        self.steps.append(f"t+{now - START_MS}: timer {rfq_id} fires")
        want = self.model.on_timer(rfq_id, now)
        got = tuple(self.sm.on_timer(rfq_id, now))
        if got != want:
            self.fail(f"timer {rfq_id} differs from the model's", show(got), show(want))
        if want:
            event("expired")
        self.watch.observe(got)

    # ---------------------------------------------------------------- rules: commands

    @initialize()
    def instruments(self) -> None:
        for command in self.scenario.setup():
            self.run(command)

    @rule(data=st.data())
    def add_instrument(self, data: st.DataObject) -> None:
        self.make("add_instrument", data)

    @rule(data=st.data())
    def enable_or_disable_instrument(self, data: st.DataObject) -> None:
        self.make("enable_instrument", data)

    @rule(data=st.data())
    def create_rfq(self, data: st.DataObject) -> None:
        self.make("create", data)

    @rule(data=st.data())
    def create_another_rfq(self, data: st.DataObject) -> None:
        """(Twice the chance of creating: the other rules need RFQs.)"""
        self.make("create", data)

    @rule(data=st.data())
    def quote(self, data: st.DataObject) -> None:
        self.make("quote", data)

    @rule(data=st.data())
    def requote(self, data: st.DataObject) -> None:
        self.make("requote", data)

    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        self.make("withdraw", data)

    @rule(data=st.data())
    def pass_(self, data: st.DataObject) -> None:
        self.make("pass", data)

    @rule(data=st.data())
    def counter(self, data: st.DataObject) -> None:
        self.make("counter", data)

    @rule(data=st.data())
    def accept_quote(self, data: st.DataObject) -> None:
        self.make("accept_quote", data)

    @rule(data=st.data())
    def accept_counter(self, data: st.DataObject) -> None:
        self.make("accept_counter", data)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self.make("cancel", data)

    @rule(data=st.data())
    def query_state(self, data: st.DataObject) -> None:
        """A gateway asks for the state: instruments, active RFQs with every dealer's standing (so the
        model's state is compared whole), StateQueried; to the sender, never deduplicated."""
        self.make("query", data)

    @rule(data=st.data())
    def resend(self, data: st.DataObject) -> None:
        """A gateway resends an earlier command: the original outcome, to the sender, nothing changes."""
        self.make("resend", data)

    @rule(data=st.data())
    def reuse_correlation_id(self, data: st.DataObject) -> None:
        """A different command under a used correlation id: CORRELATION_ID_REUSED, not recorded."""
        self.make("reuse", data)

    @rule(data=st.data(), close=st.sampled_from(CLOSES))
    def negotiate(self, data: st.DataObject, close: str) -> None:
        """A dealer of an open RFQ quotes (unless it has a live quote), then the requester hits the
        quote, or counters it (once or twice) and the dealer accepts the counter (or the replaced
        one); the other rules interleave noise."""
        scenario, now = self.scenario, self.scenario.now
        open_seats = [(rfq, seat) for rfq in scenario.open_rfqs() for seat in rfq.not_passed()]
        if not open_seats:
            self.make("create", data)
            return
        rfq, seat = data.draw(st.sampled_from(open_seats))
        for other in rfq.not_passed():  # the other dealers' standing when it trades
            if other is not seat:
                self.other_dealer_acts(data, rfq, other)
        if not seat.quote_is_live(now):
            price = data.draw(st.sampled_from(PRICES))
            quote = SubmitQuote(
                correlation_id=scenario.cid(), user_id=seat.dealer, rfq_id=rfq.rfq_id, price=price
            )
            self.run(quote)
        quote_id = seat.quote_id
        assert quote_id is not None
        if close == "hit":
            self.run(
                AcceptQuote(
                    correlation_id=scenario.cid(), user_id=rfq.requester, rfq_id=rfq.rfq_id, quote_id=quote_id
                )
            )
            return
        for _ in range(2 if "twice" in close else 1):
            counter = CounterQuote(
                correlation_id=scenario.cid(),
                user_id=rfq.requester,
                rfq_id=rfq.rfq_id,
                quote_id=quote_id,
                price=data.draw(st.sampled_from(PRICES)),
            )
            self.run(counter)
        if "accept" in close:
            replaced = close.endswith("the first")
            self.run(
                AcceptCounter(
                    correlation_id=scenario.cid(),
                    user_id=seat.dealer,
                    rfq_id=rfq.rfq_id,
                    counter_id=self.model.next_quote_id - (2 if replaced else 1),
                )
            )

    def other_dealer_acts(self, data: st.DataObject, rfq: Rfq, seat: Seat) -> None:
        """Nothing, a quote, a quote then its withdrawal, or a pass."""
        action = data.draw(st.sampled_from(["nothing", "quote", "quote and withdraw", "pass"]))
        common = {"user_id": seat.dealer, "rfq_id": rfq.rfq_id}
        if action.startswith("quote"):
            price = data.draw(st.sampled_from(PRICES))
            self.run(SubmitQuote(correlation_id=self.scenario.cid(), price=price, **common))
        if action.endswith("withdraw"):
            self.run(WithdrawQuote(correlation_id=self.scenario.cid(), **common))
        if action == "pass":
            self.run(PassRfq(correlation_id=self.scenario.cid(), **common))

    # ---------------------------------------------------------------- rules: time, timers, restarts

    @rule(data=st.data(), deliver=st.booleans())
    def time_passes(self, data: st.DataObject, deliver: bool) -> None:
        """Cluster time moves on; the due timers fire now or at a later step (late timers: commands
        stamped past a deadline come first and must hear RFQ_EXPIRED)."""
        self.advance(data, deliver, to_boundary=False)

    @rule(data=st.data(), deliver=st.booleans())
    def a_deadline_or_validity_comes(self, data: st.DataObject, deliver: bool) -> None:
        """Time moves to exactly the next deadline or quote validity, or to 1 ms before it."""
        self.advance(data, deliver, to_boundary=True)

    def advance(self, data: st.DataObject, deliver: bool, to_boundary: bool) -> None:
        now = self.scenario.elapse(data.draw, to_boundary)
        self.steps.append(f"t+{now - START_MS}: time passes")
        if not deliver:
            return
        for rfq_id, _deadline in self.timers.pop_due(now):
            self.fire(rfq_id)
        if self.model.due_timers(now):
            self.fail("due RFQs left active (timer never scheduled?)", [], self.model.due_timers(now))

    @rule(data=st.data())
    def stale_or_early_timer(self, data: st.DataObject) -> None:
        """A timer for an ended or unknown RFQ, or one not yet due, does nothing."""
        now = self.scenario.now
        candidates = [r.rfq_id for r in self.model.rfqs.values() if r.ended is not None or now < r.deadline]
        rfq_id = data.draw(st.sampled_from([*candidates, self.model.next_rfq_id]))
        self.fire(rfq_id)

    @rule()
    def restart_from_snapshot(self) -> None:
        """A node restarts from its snapshot (through the codec) and re-primes its timers itself."""
        self.steps.append("restart from a snapshot")
        frames = [encode(record) for record in self.sm.snapshot()]
        timers = InMemoryTimers()
        restored = StateMachine.restore([decode(frame) for frame in frames], timers)
        assert timers.pending() == {}, "restore scheduled timers"
        for rfq_id, deadline in restored.active_expiries():
            timers.schedule(rfq_id, deadline)
        assert [encode(record) for record in restored.snapshot()] == frames
        self.sm, self.timers = restored, timers

    # ---------------------------------------------------------------- invariants

    @invariant()
    def expiries_are_the_models(self) -> None:
        expiries = self.model.active_expiries()
        got = sorted(self.sm.active_expiries())
        if got != expiries:
            self.fail("active_expiries differ", got, expiries)
        pending = self.timers.pending()
        missing = [(i, d) for i, d in expiries if pending.get(i) != d]
        if missing:
            self.fail("active RFQs without their timer", pending, expiries)


TestStateMachineAgainstModel = StateMachineAgainstModel.TestCase
TestStateMachineAgainstModel.settings = settings(
    max_examples=500,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
