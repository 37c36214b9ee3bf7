"""A small desk for the domain's unit tests: a state machine, its in-memory timers and a clock.

Tests reach it through the ``desk`` / ``market`` fixtures (with ``--import-mode=importlib`` a conftest
is not importable); the constants below are repeated where a test needs them.
"""

from __future__ import annotations

import pytest

from rfq.cluster.domain import InMemoryTimers, Outcome, StateMachine
from rfq.codecs.rfq_sbe import (
    AcceptRfq,
    AddInstrument,
    BooleanType,
    CancelRfq,
    CommandRejected,
    CounterRfq,
    CreateRfq,
    EnableInstrument,
    QuoteRfq,
    RejectReason,
    RejectRfq,
    Side,
)

APPLE, GOOGLE, MICROSOFT = "037833100", "38259P508", "594918104"
START_MS = 1_700_000_000_000
PRICE_100 = 100 * 10**8
OPERATOR = 99
ALICE, BOB, CAROL = 1, 2, 3


class Desk:
    """Issues commands with fresh correlation ids at ``now`` and keeps every outcome."""

    def __init__(self, dedupe_capacity: int = 1000) -> None:
        self.timers = InMemoryTimers()
        self.sm = StateMachine(self.timers, dedupe_capacity)
        self.now = START_MS
        self._next_cid = 1000

    def cid(self) -> int:
        self._next_cid += 1
        return self._next_cid

    def apply(self, command: object) -> Outcome:
        return self.sm.apply(command, self.now)  # type: ignore[arg-type]

    def fire_due(self) -> list[object]:
        events: list[object] = []
        for rfq_id, _deadline in self.timers.pop_due(self.now):
            events.extend(self.sm.on_timer(rfq_id, self.now))
        return events

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

    def create(
        self,
        user: int = ALICE,
        instrument_id: int = 1,
        side: Side = Side.BUY,
        quantity: int = 1_000,
        expires_in_ms: int = 60_000,
        cl_ord_id: str = "ORD-1",
    ) -> Outcome:
        return self.apply(
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

    def quote(self, user: int, rfq_id: int, price: int = PRICE_100) -> Outcome:
        return self.apply(QuoteRfq(correlation_id=self.cid(), user_id=user, rfq_id=rfq_id, price=price))

    def counter(self, user: int, rfq_id: int, price: int = PRICE_100) -> Outcome:
        return self.apply(CounterRfq(correlation_id=self.cid(), user_id=user, rfq_id=rfq_id, price=price))

    def accept(self, user: int, rfq_id: int) -> Outcome:
        return self.apply(AcceptRfq(correlation_id=self.cid(), user_id=user, rfq_id=rfq_id))

    def reject(self, user: int, rfq_id: int) -> Outcome:
        return self.apply(RejectRfq(correlation_id=self.cid(), user_id=user, rfq_id=rfq_id))

    def cancel(self, user: int, rfq_id: int) -> Outcome:
        return self.apply(CancelRfq(correlation_id=self.cid(), user_id=user, rfq_id=rfq_id))

    @staticmethod
    def reason(outcome: Outcome) -> RejectReason:
        """The reason of a refusal, after checking it is one: one CommandRejected, to the sender only."""
        assert outcome.refused, outcome
        assert len(outcome.events) == 1
        assert outcome.audience.name == "SENDER"
        event = outcome.events[0]
        assert isinstance(event, CommandRejected)
        return RejectReason(event.reason)

    def open_rfq(self, **kwargs: object) -> int:
        """Create an RFQ that must succeed; its id."""
        outcome = self.create(**kwargs)  # type: ignore[arg-type]
        assert not outcome.refused, outcome
        return int(outcome.events[0].rfq_id)  # type: ignore[union-attr]

    def quoted_rfq(self, requester: int = ALICE, responder: int = BOB, **kwargs: object) -> int:
        rfq_id = self.open_rfq(user=requester, **kwargs)
        assert not self.quote(responder, rfq_id).refused
        return rfq_id


@pytest.fixture
def desk() -> Desk:
    return Desk()


@pytest.fixture
def market(desk: Desk) -> Desk:
    """A desk with one enabled instrument (id 1, Apple, minimum quantity 100)."""
    assert not desk.add_instrument().refused
    return desk
