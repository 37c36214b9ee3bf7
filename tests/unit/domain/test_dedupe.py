"""Exactly-once effect: a correlation id seen again gets its original outcome and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from rfq.cluster.domain import Audience, DedupeWindow, InMemoryTimers, StateMachine
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    BooleanType,
    CancelRfq,
    CommandRejected,
    CreateRfq,
    QuoteRfq,
    RejectReason,
    Side,
)

ALICE, BOB, CAROL = 1, 2, 3
APPLE = "037833100"


def test_a_resent_command_gets_the_original_events_and_changes_nothing(market: Any) -> None:
    command = CreateRfq(
        correlation_id=77,
        user_id=ALICE,
        instrument_id=1,
        side=Side.BUY,
        quantity=500,
        expire_time_ms=market.now + 1_000,
        cl_ord_id="A",
    )
    first = market.apply(command)
    before = market.sm.snapshot()
    market.now += 10_000  # the resend comes after a leader change, even after the expiry
    again = market.apply(command)
    assert again.events == first.events
    assert again.audience is Audience.SENDER
    assert again.duplicate
    assert market.sm.snapshot() == before
    assert market.timers.pending() == {1: market.now - 9_000}


def test_a_resent_refusal_stays_refused_even_if_it_would_now_succeed(market: Any) -> None:
    quote = QuoteRfq(correlation_id=5, user_id=BOB, rfq_id=1, price=100)
    assert market.reason(market.apply(quote)) == RejectReason.UNKNOWN_RFQ
    market.open_rfq()
    again = market.apply(quote)
    assert again.duplicate
    assert market.reason(again._replace(duplicate=False)) == RejectReason.UNKNOWN_RFQ
    assert market.sm.rfqs.get(1).responder_user_id is None


def test_the_key_is_the_correlation_id_alone(market: Any) -> None:
    """Gateways must make correlation ids unique across the cluster: a different command with a used
    correlation id is answered as the duplicate it claims to be."""
    rfq_id = market.open_rfq()
    used = market.sm.dedupe
    cid = next(iter(used))[0]
    outcome = market.apply(QuoteRfq(correlation_id=cid, user_id=BOB, rfq_id=rfq_id, price=1))
    assert outcome.duplicate
    assert market.sm.rfqs.get(rfq_id).responder_user_id is None


def test_the_window_evicts_the_oldest_first() -> None:
    window = DedupeWindow(capacity=3)
    for cid in [10, 5, 7, 1]:
        window.record(cid, cid * 100, ())
    assert [c for c, _, _ in window] == [5, 7, 1]
    assert 10 not in window
    assert window.get(10) is None
    assert [t for _, t, _ in window] == [500, 700, 100]
    assert window.get(5) == ()


def test_a_command_evicted_from_the_window_is_applied_again() -> None:
    """The window is bounded: beyond ``capacity`` newer commands, a resend is a new command."""
    sm = StateMachine(InMemoryTimers(), dedupe_capacity=2)
    add = AddInstrument(correlation_id=1, user_id=9, min_quantity=0, enabled=BooleanType.TRUE, cusip=APPLE)
    assert not sm.apply(add, 0).refused
    assert sm.apply(add, 0).duplicate
    for cid in (2, 3):
        sm.apply(CancelRfq(correlation_id=cid, user_id=ALICE, rfq_id=1), 0)
    assert [c for c, _, _ in sm.dedupe] == [2, 3]
    again = sm.apply(add, 0)
    assert not again.duplicate
    (refusal,) = again.events
    assert isinstance(refusal, CommandRejected)
    assert refusal.reason == RejectReason.DUPLICATE_INSTRUMENT
    assert [c for c, _, _ in sm.dedupe] == [3, 1]


@pytest.mark.parametrize("capacity", [0, -1])
def test_the_window_needs_room_for_one(capacity: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DedupeWindow(capacity)
