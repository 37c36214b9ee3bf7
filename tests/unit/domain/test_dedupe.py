"""Exactly-once effect: a correlation id seen again with the same command gets its original outcome
and changes nothing; seen again with another command, it is refused and keeps its first outcome."""

from __future__ import annotations

import gc
import hashlib
from typing import Any

import pytest

from rfq.cluster.domain import (
    Audience,
    DedupeWindow,
    InMemoryTimers,
    StateMachine,
    command_digest,
    command_key,
    key_digest,
)
from rfq.codecs.rfq_sbe import (
    AcceptQuote,
    AddInstrument,
    BooleanType,
    CancelRfq,
    CommandRejected,
    CreateRfq,
    CreateRfqDealers,
    EndReason,
    InstrumentAdded,
    QueryState,
    RejectReason,
    RfqEnded,
    Side,
    SubmitQuote,
)

OPERATOR = 99
ALICE, BOB, CAROL, DAVE, ERIN = 1, 2, 3, 4, 5
APPLE, GOOGLE = "037833100", "38259P508"
R = RejectReason


def create(
    correlation_id: int, now: int, dealers: tuple[int, ...] = (BOB, CAROL), **changes: Any
) -> CreateRfq:
    fields: dict[str, Any] = {"correlation_id": correlation_id, "user_id": ALICE, "instrument_id": 1}
    fields |= {"side": Side.BUY, "quantity": 500, "expire_time_ms": now + 1_000, "cl_ord_id": "A"}
    fields |= {"dealers": [CreateRfqDealers(dealer_user_id=d) for d in dealers]}
    return CreateRfq(**(fields | changes))


def test_a_resent_command_gets_the_original_events_and_changes_nothing(market: Any) -> None:
    command = create(77, market.now)
    first = market.apply(command)
    before, timers = market.sm.snapshot(), market.timers.pending()
    market.now += 10_000  # the resend comes after a leader change, even after the deadline
    again = market.apply(command)
    assert again.events == first.events
    assert again.audience is Audience.SENDER  # the resending gateway gets its answer, nobody else
    assert again.duplicate
    assert not again.refused
    assert market.sm.snapshot() == before  # not even the last applied time
    assert market.timers.pending() == timers


def test_a_resent_trade_is_not_a_second_trade(market: Any) -> None:
    rfq_id = market.open_rfq()
    quote_id = market.quoted(BOB, rfq_id)
    hit = AcceptQuote(correlation_id=market.cid(), user_id=ALICE, rfq_id=rfq_id, quote_id=quote_id)
    first = market.apply(hit)
    command_cid = market.last_cid
    before = market.sm.snapshot()
    again = market.apply(hit)
    assert again.duplicate
    assert again.events == first.events
    assert market.shape(again.events) == [
        ("RfqTraded", ALICE, command_cid),
        ("RfqTraded", BOB, None),
        ("RfqEnded", CAROL, None),
        ("RfqEnded", DAVE, None),
    ]
    assert market.sm.snapshot() == before
    assert market.sm.rfqs.next_trade_id == 2


def test_a_resent_refusal_stays_refused_even_if_it_would_now_succeed(market: Any) -> None:
    quote = SubmitQuote(correlation_id=5, user_id=BOB, rfq_id=1, price=100)
    assert market.reason(market.apply(quote)) == R.UNKNOWN_RFQ
    rfq_id = market.open_rfq()
    again = market.apply(quote)
    assert again.duplicate
    assert again.audience is Audience.SENDER
    (refusal,) = again.events
    assert isinstance(refusal, CommandRejected)
    assert refusal.reason == R.UNKNOWN_RFQ
    assert market.sm.rfqs.get(rfq_id).dealers[BOB].quote_id is None


@pytest.mark.parametrize(
    "other",
    [
        "another command type",
        "another quantity",
        "the dealers in another order",
        "another user",
    ],
)
def test_a_correlation_id_reused_for_another_command_is_refused(market: Any, other: str) -> None:
    original = create(77, market.now)
    first = market.apply(original)
    if other == "another command type":
        reuse: Any = CancelRfq(correlation_id=77, user_id=ALICE, rfq_id=1)
    elif other == "another quantity":
        reuse = create(77, market.now, quantity=501)
    elif other == "the dealers in another order":
        reuse = create(77, market.now, dealers=(CAROL, BOB))
    else:
        reuse = create(77, market.now, user_id=ERIN)
    before, window = market.sm.snapshot(), list(market.sm.dedupe)
    market.now += 1
    outcome = market.apply(reuse)
    assert outcome.events == (
        CommandRejected(
            correlation_id=77,
            user_id=reuse.user_id,
            template_id=reuse.TEMPLATE_ID,
            reason=R.CORRELATION_ID_REUSED,
            timestamp_ms=market.now,
        ),
    )
    assert outcome.audience is Audience.SENDER
    assert not outcome.duplicate
    assert market.sm.snapshot() == before  # not recorded: nothing changed, the window included
    assert list(market.sm.dedupe) == window
    assert market.reason(market.apply(reuse)) == R.CORRELATION_ID_REUSED  # and again
    again = market.apply(original)  # the id keeps its first outcome
    assert again.duplicate
    assert again.events == first.events


def test_the_id_of_a_refusal_is_taken_too(market: Any) -> None:
    assert market.reason(market.apply(CancelRfq(correlation_id=8, user_id=ALICE, rfq_id=1))) == R.UNKNOWN_RFQ
    assert market.reason(market.apply(create(8, market.now))) == R.CORRELATION_ID_REUSED
    assert market.sm.rfqs.next_rfq_id == 1


def test_a_duplicate_is_checked_before_anything_else(market: Any) -> None:
    rfq_id = market.open_rfq()
    cancel = CancelRfq(correlation_id=9, user_id=ALICE, rfq_id=rfq_id)
    first = market.apply(cancel)
    assert [e.reason for e in first.events] == [EndReason.CANCELED] * 4
    again = market.apply(cancel)  # the RFQ is over now, yet the resend gets the cancellation again
    assert again.duplicate
    assert again.events == first.events
    assert all(isinstance(e, RfqEnded) for e in again.events)


def test_the_window_remembers_when_each_id_was_applied(market: Any) -> None:
    market.now += 5
    market.open_rfq()
    market.now += 5
    market.cancel(99)
    assert [(t - market.now) for _, t, _ in market.sm.dedupe] == [-10, -5, 0]


def test_a_query_is_answered_and_never_checked_against_the_window(market: Any) -> None:
    """QueryState reads and changes nothing: it is exempt from the window (docs/state-machine.md),
    so even an id an earlier command used gets the state, and the window does not grow."""
    used = next(iter(market.sm.dedupe))[0]
    size = len(market.sm.dedupe)
    outcome = market.apply(QueryState(correlation_id=used, user_id=OPERATOR))
    assert not outcome.refused
    assert outcome.audience.name == "SENDER"
    assert type(outcome.events[-1]).__name__ == "StateQueried"
    assert len(market.sm.dedupe) == size


# ------------------------------------------------------------------ the window itself


def test_the_window_evicts_the_oldest_first() -> None:
    window = DedupeWindow(capacity=3)
    for cid in [10, 5, 7, 1]:
        event = CommandRejected(
            correlation_id=cid, user_id=1, template_id=3, reason=R.UNKNOWN_RFQ, timestamp_ms=0
        )
        window.record(
            cid, cid * 100, command_key(CancelRfq(correlation_id=cid, user_id=1, rfq_id=1)), (event,)
        )
    assert [c for c, _, _ in window] == [5, 7, 1]
    assert 10 not in window
    assert window.get(10) is None
    assert [t for _, t, _ in window] == [500, 700, 100]
    assert window.get(5) == (
        CommandRejected(correlation_id=5, user_id=1, template_id=3, reason=R.UNKNOWN_RFQ, timestamp_ms=0),
    )
    assert len(window) == 3


def test_the_window_holds_nothing_the_garbage_collector_keeps_tracking(market: Any) -> None:
    """Every entry is one tuple of plain values (the dealers of a create, one tuple more), so that the
    collector stops tracking it at once instead of walking 100k entries on every full collection."""
    rfq_id = market.open_rfq()
    quote_id = market.quoted(BOB, rfq_id)
    market.apply(AcceptQuote(correlation_id=market.cid(), user_id=ALICE, rfq_id=rfq_id, quote_id=quote_id))
    market.apply(CancelRfq(correlation_id=market.cid(), user_id=ALICE, rfq_id=rfq_id))  # refused
    entries = list(market.sm.dedupe._entries.values())
    plain = (int, str, type(None))
    for entry in entries:
        assert all(
            type(v) in plain or (type(v) is tuple and all(type(d) is int for d in v)) for v in entry
        ), entry
    gc.collect()
    gc.collect()  # an entry holding the dealers of a create is untracked once they are
    assert [entry for entry in entries if gc.is_tracked(entry)] == []


def test_a_command_evicted_from_the_window_is_applied_again() -> None:
    """The window is bounded: beyond ``capacity`` newer commands, a resend is a new command."""
    sm = StateMachine(InMemoryTimers(), dedupe_capacity=2)
    add = AddInstrument(correlation_id=1, user_id=9, min_quantity=0, enabled=BooleanType.TRUE, cusip=APPLE)
    assert isinstance(sm.apply(add, 0).events[0], InstrumentAdded)
    assert sm.apply(add, 0).duplicate
    for cid in (2, 3):
        sm.apply(CancelRfq(correlation_id=cid, user_id=ALICE, rfq_id=1), 0)
    assert [c for c, _, _ in sm.dedupe] == [2, 3]
    again = sm.apply(add, 0)
    assert not again.duplicate
    (refusal,) = again.events
    assert isinstance(refusal, CommandRejected)
    assert refusal.reason == R.DUPLICATE_INSTRUMENT
    assert [c for c, _, _ in sm.dedupe] == [3, 1]


@pytest.mark.parametrize("capacity", [0, -1])
def test_the_window_needs_room_for_one(capacity: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DedupeWindow(capacity)


def test_the_command_digest_is_blake2b_of_the_frozen_command() -> None:
    command = create(1, 0)
    expected = hashlib.blake2b(repr(command_key(command)).encode("utf-8"), digest_size=8).digest()
    assert command_digest(command) == int.from_bytes(expected, "little") == key_digest(command_key(command))
    assert command_digest(create(1, 0)) == command_digest(command)  # equal commands, equal digests
    assert command_digest(create(1, 0, quantity=501)) != command_digest(command)
    assert command_digest(create(2, 0)) != command_digest(command)
    assert command_digest(create(1, 0, dealers=(CAROL, BOB))) != command_digest(command)
