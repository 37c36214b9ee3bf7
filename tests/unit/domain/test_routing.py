"""The routing rule gateways use: ``recipients(event)`` for every event type, and, over a whole RFQ,
every copy is addressed to one user and only the actor's copy carries the correlation id."""

from __future__ import annotations

from typing import Any

import pytest

from rfq.cluster.domain import EVERYONE, recipients
from rfq.cluster.domain.messages import EVENT_TYPES
from rfq.codecs.rfq_sbe import (
    BooleanType,
    CommandRejected,
    CreateRfq,
    DealerPassed,
    EndReason,
    InstrumentAdded,
    InstrumentEnabled,
    InstrumentRecord,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RejectReason,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqRecord,
    RfqTraded,
    Side,
    SnapshotBegin,
    StateQueried,
    TradeKind,
)

ALICE, BOB, CAROL, DAVE, ERIN = 1, 2, 3, 4, 5
APPLE = "037833100"

RFQ: dict[str, Any] = {
    "rfq_id": 1,
    "instrument_id": 1,
    "side": Side.BUY,
    "quantity": 10,
    "expire_time_ms": 9,
    "timestamp_ms": 0,
}

EXAMPLES: list[tuple[Any, Any]] = [
    (
        InstrumentAdded(
            correlation_id=1,
            instrument_id=1,
            min_quantity=0,
            enabled=BooleanType.TRUE,
            timestamp_ms=0,
            cusip=APPLE,
        ),
        EVERYONE,
    ),
    (
        InstrumentEnabled(correlation_id=1, instrument_id=1, enabled=BooleanType.FALSE, timestamp_ms=0),
        EVERYONE,
    ),
    (RfqCreated(correlation_id=1, requester_user_id=ALICE, cl_ord_id="A", **RFQ), (ALICE,)),
    (RfqInvited(dealer_user_id=BOB, requester_user_id=ALICE, dealer_count=2, **RFQ), (BOB,)),
    (
        QuoteSubmitted(
            recipient_user_id=CAROL,
            correlation_id=None,
            rfq_id=1,
            quote_id=1,
            dealer_user_id=BOB,
            price=5,
            valid_until_ms=9,
            replaced_quote_id=None,
            timestamp_ms=0,
        ),
        (CAROL,),
    ),
    (
        QuoteWithdrawn(
            recipient_user_id=ALICE,
            correlation_id=None,
            rfq_id=1,
            quote_id=1,
            dealer_user_id=BOB,
            timestamp_ms=0,
        ),
        (ALICE,),
    ),
    (
        DealerPassed(recipient_user_id=BOB, correlation_id=7, rfq_id=1, dealer_user_id=BOB, timestamp_ms=0),
        (BOB,),
    ),
    (
        QuoteCountered(
            recipient_user_id=BOB,
            correlation_id=None,
            rfq_id=1,
            counter_id=2,
            quote_id=1,
            dealer_user_id=BOB,
            price=4,
            timestamp_ms=0,
        ),
        (BOB,),
    ),
    (
        RfqTraded(
            recipient_user_id=DAVE,
            correlation_id=None,
            rfq_id=1,
            trade_id=1,
            kind=TradeKind.QUOTE_HIT,
            quote_id=1,
            requester_user_id=ALICE,
            dealer_user_id=DAVE,
            buyer_user_id=ALICE,
            seller_user_id=DAVE,
            instrument_id=1,
            price=5,
            quantity=10,
            cover_price=None,
            timestamp_ms=0,
        ),
        (DAVE,),
    ),
    (
        RfqEnded(
            recipient_user_id=ERIN, correlation_id=None, rfq_id=1, reason=EndReason.DONE_AWAY, timestamp_ms=0
        ),
        (ERIN,),
    ),
    (
        CommandRejected(
            correlation_id=1, user_id=CAROL, template_id=4, reason=RejectReason.UNKNOWN_RFQ, timestamp_ms=0
        ),
        (CAROL,),
    ),
    # a refusal whose sender could not be read goes to no user (the sending session still gets it)
    (
        CommandRejected(
            correlation_id=1, user_id=None, template_id=4, reason=RejectReason.MALFORMED_FRAME, timestamp_ms=0
        ),
        (),
    ),
    # the end of a gateway's own QueryState answer: for the gateway, not for a user
    (StateQueried(correlation_id=1, instrument_count=0, rfq_count=0, next_rfq_id=1, timestamp_ms=0), ()),
]


@pytest.mark.parametrize(("event", "expected"), EXAMPLES, ids=[f"{type(e).__name__}" for e, _ in EXAMPLES])
def test_who_may_see_each_event(event: Any, expected: Any) -> None:
    assert recipients(event) == expected


def test_every_event_type_has_an_example() -> None:
    assert {type(event) for event, _ in EXAMPLES} == set(EVENT_TYPES)
    assert repr(EVERYONE) == "EVERYONE"


@pytest.mark.parametrize(
    "thing",
    [
        CreateRfq(
            correlation_id=1,
            user_id=ALICE,
            instrument_id=1,
            side=Side.BUY,
            quantity=1,
            expire_time_ms=1,
            cl_ord_id="",
        ),
        InstrumentRecord(instrument_id=1, min_quantity=0, enabled=BooleanType.TRUE, cusip=APPLE),
        RfqRecord(
            correlation_id=1,
            requester_user_id=ALICE,
            cl_ord_id="",
            created_time_ms=0,
            **{k: v for k, v in RFQ.items() if k != "timestamp_ms"},
        ),
        SnapshotBegin(
            next_instrument_id=1,
            next_rfq_id=1,
            next_quote_id=1,
            next_trade_id=1,
            instrument_count=0,
            rfq_count=0,
            ended_count=0,
            dedupe_count=0,
            timestamp_ms=0,
        ),
        object(),
        None,
    ],
    ids=["a command", "an InstrumentRecord", "an RfqRecord", "a snapshot record", "an object", "None"],
)
def test_anything_but_an_event_is_a_type_error(thing: Any) -> None:
    with pytest.raises(TypeError, match="is not an event"):
        recipients(thing)


def test_over_a_whole_rfq_each_copy_goes_to_one_user_and_only_the_actor_hears_its_id(market: Any) -> None:
    """Every command of an RFQ's life, by every party: the copy with the correlation id is the sender's."""
    rfq_id = market.open_rfq(dealers=(BOB, CAROL, DAVE, ERIN))
    bobs = market.quoted(BOB, rfq_id)
    market.quoted(CAROL, rfq_id)
    market.quoted(CAROL, rfq_id)
    market.withdraw(CAROL, rfq_id)
    market.pass_rfq(DAVE, rfq_id)
    counter_id = market.countered(rfq_id, bobs)
    market.accept_counter(BOB, rfq_id, counter_id)
    other = market.open_rfq(user=ERIN, dealers=(ALICE,))
    market.cancel(other, user=ERIN)
    for correlation_id, _, events in market.sm.dedupe:
        if correlation_id == 1001:
            continue  # the instrument: reference data, to everyone
        addressed = [recipients(event) for event in events]
        assert all(isinstance(who, tuple) and len(who) == 1 for who in addressed), events
        with_id = [event for event in events if getattr(event, "correlation_id", None) is not None]
        assert len(with_id) == 1, events  # exactly one copy carries the id: the actor's
        assert len({who for who in addressed}) == len(events)  # one copy per recipient
    # who acted each time: the copy with the id went to them
    acted = [
        next(who for (_, who, cid) in market.shape(events) if cid is not None)
        for c, _, events in market.sm.dedupe
        if c != 1001
    ]
    assert acted == [ALICE, BOB, CAROL, CAROL, CAROL, DAVE, ALICE, BOB, ERIN, ERIN]
