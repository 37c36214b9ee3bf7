"""A small desk for the domain's unit tests: a state machine, its in-memory timers and a clock.

Tests reach it through the ``desk`` / ``market`` fixtures (and ``make_desk`` for other capacities;
with ``--import-mode=importlib`` a conftest is not importable); the constants below are repeated
where a test needs them.

The cast of every test: ALICE asks (the requester), BOB, CAROL and DAVE are the dealers she asks by
default (in that order), ERIN is not among them unless a test says so, OPERATOR manages instruments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest

from rfq.cluster.domain import Audience, InMemoryTimers, Outcome, StateMachine, recipients
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
    EnableInstrument,
    PassRfq,
    QueryState,
    QuoteCountered,
    QuoteSubmitted,
    RejectReason,
    RfqCreated,
    Side,
    SubmitQuote,
    WithdrawQuote,
)

APPLE, GOOGLE, MICROSOFT = "037833100", "38259P508", "594918104"
START_MS = 1_700_000_000_000
PRICE_100 = 100 * 10**8
OPERATOR = 99
ALICE, BOB, CAROL, DAVE, ERIN = 1, 2, 3, 4, 5
DEALERS = (BOB, CAROL, DAVE)


class Desk:
    """Issues commands with fresh correlation ids at ``now`` and remembers the last one used."""

    def __init__(self, dedupe_capacity: int = 1000, ended_capacity: int = 1000) -> None:
        self.timers = InMemoryTimers()
        self.sm = StateMachine(self.timers, dedupe_capacity, ended_capacity)
        self.now = START_MS
        self._next_cid = 1000
        self.last_cid = 0
        """The correlation id of the last command applied through ``apply``."""

    def cid(self) -> int:
        self._next_cid += 1
        return self._next_cid

    def apply(self, command: Any) -> Outcome:
        self.last_cid = command.correlation_id
        return self.sm.apply(command, self.now)

    def fire_due(self) -> list[object]:
        """Fire every timer due at ``now``, as the cluster would; the events they produced."""
        events: list[object] = []
        for rfq_id, _deadline in self.timers.pop_due(self.now):
            events.extend(self.sm.on_timer(rfq_id, self.now))
        return events

    # ------------------------------------------------------------------ commands

    def add_instrument(
        self, cusip: str = APPLE, min_quantity: int = 100, enabled: bool = True, user: int = OPERATOR
    ) -> Outcome:
        flag = BooleanType.TRUE if enabled else BooleanType.FALSE
        return self.apply(
            AddInstrument(
                correlation_id=self.cid(), user_id=user, min_quantity=min_quantity, enabled=flag, cusip=cusip
            )
        )

    def enable(self, instrument_id: int, enabled: bool, user: int = OPERATOR) -> Outcome:
        flag = BooleanType.TRUE if enabled else BooleanType.FALSE
        return self.apply(
            EnableInstrument(
                correlation_id=self.cid(), user_id=user, instrument_id=instrument_id, enabled=flag
            )
        )

    def create_command(
        self,
        user: int = ALICE,
        dealers: Sequence[int] = DEALERS,
        instrument_id: int = 1,
        side: Side = Side.BUY,
        quantity: int = 1_000,
        expires_in_ms: int = 60_000,
        cl_ord_id: str = "ORD-1",
    ) -> CreateRfq:
        return CreateRfq(
            correlation_id=self.cid(),
            user_id=user,
            instrument_id=instrument_id,
            side=side,
            quantity=quantity,
            expire_time_ms=self.now + expires_in_ms,
            cl_ord_id=cl_ord_id,
            dealers=[CreateRfqDealers(dealer_user_id=dealer) for dealer in dealers],
        )

    def create(self, **kwargs: Any) -> Outcome:
        return self.apply(self.create_command(**kwargs))

    def quote(
        self, dealer: int, rfq_id: int, price: int = PRICE_100, valid_until_ms: int | None = None
    ) -> Outcome:
        return self.apply(
            SubmitQuote(
                correlation_id=self.cid(),
                user_id=dealer,
                rfq_id=rfq_id,
                price=price,
                valid_until_ms=valid_until_ms,
            )
        )

    def withdraw(self, dealer: int, rfq_id: int) -> Outcome:
        return self.apply(WithdrawQuote(correlation_id=self.cid(), user_id=dealer, rfq_id=rfq_id))

    def pass_rfq(self, dealer: int, rfq_id: int) -> Outcome:
        return self.apply(PassRfq(correlation_id=self.cid(), user_id=dealer, rfq_id=rfq_id))

    def counter(self, rfq_id: int, quote_id: int, price: int = PRICE_100, user: int = ALICE) -> Outcome:
        return self.apply(
            CounterQuote(
                correlation_id=self.cid(), user_id=user, rfq_id=rfq_id, quote_id=quote_id, price=price
            )
        )

    def hit(self, rfq_id: int, quote_id: int, user: int = ALICE) -> Outcome:
        """The requester accepts a quote (``AcceptQuote``)."""
        return self.apply(
            AcceptQuote(correlation_id=self.cid(), user_id=user, rfq_id=rfq_id, quote_id=quote_id)
        )

    def accept_counter(self, dealer: int, rfq_id: int, counter_id: int) -> Outcome:
        return self.apply(
            AcceptCounter(correlation_id=self.cid(), user_id=dealer, rfq_id=rfq_id, counter_id=counter_id)
        )

    def cancel(self, rfq_id: int, user: int = ALICE) -> Outcome:
        return self.apply(CancelRfq(correlation_id=self.cid(), user_id=user, rfq_id=rfq_id))

    def query(self, user: int = OPERATOR) -> Outcome:
        return self.apply(QueryState(correlation_id=self.cid(), user_id=user))

    # ------------------------------------------------------------------ commands that must succeed

    def open_rfq(self, **kwargs: Any) -> int:
        """Create an RFQ that must succeed; its id."""
        created = self.changed(self.create(**kwargs))[0]
        assert isinstance(created, RfqCreated)
        return int(created.rfq_id)

    def quoted(
        self, dealer: int, rfq_id: int, price: int = PRICE_100, valid_until_ms: int | None = None
    ) -> int:
        """A quote that must succeed; its quote id."""
        submitted = self.changed(self.quote(dealer, rfq_id, price, valid_until_ms))[0]
        assert isinstance(submitted, QuoteSubmitted)
        return int(submitted.quote_id)

    def countered(self, rfq_id: int, quote_id: int, price: int = PRICE_100) -> int:
        """A counter that must succeed; its counter id."""
        countered = self.changed(self.counter(rfq_id, quote_id, price))[0]
        assert isinstance(countered, QuoteCountered)
        return int(countered.counter_id)

    # ------------------------------------------------------------------ reading outcomes

    @staticmethod
    def changed(outcome: Outcome) -> tuple[Any, ...]:
        """The events of a command that changed the state: broadcast, new, never empty."""
        assert not outcome.refused, outcome
        assert outcome.audience is Audience.BROADCAST, outcome
        assert not outcome.duplicate, outcome
        assert outcome.events
        return outcome.events

    @staticmethod
    def reason(outcome: Outcome) -> RejectReason:
        """The reason of a refusal, after checking it is one: one CommandRejected, to the sender only."""
        assert outcome.refused, outcome
        assert len(outcome.events) == 1
        assert outcome.audience is Audience.SENDER
        event = outcome.events[0]
        assert isinstance(event, CommandRejected)
        return RejectReason(event.reason)

    @staticmethod
    def shape(events: Iterable[Any]) -> list[tuple[str, int | None, int | None]]:
        """(event type, the user ``recipients`` addresses it to, its correlation id) of each event."""
        return [(type(e).__name__, _address(e), getattr(e, "correlation_id", None)) for e in events]


def _address(event: Any) -> int | None:
    """The one user ``recipients`` addresses the event to (None for reference data)."""
    who = recipients(event)
    if not isinstance(who, tuple):
        return None
    (user,) = who
    return user


@pytest.fixture
def make_desk() -> Callable[..., Desk]:
    """``Desk`` itself, for a test that needs other capacities."""
    return Desk


@pytest.fixture
def desk() -> Desk:
    return Desk()


@pytest.fixture
def market(desk: Desk) -> Desk:
    """A desk with one enabled instrument (id 1, Apple, minimum quantity 100)."""
    desk.changed(desk.add_instrument())
    return desk
