"""Stop all three nodes and start them again: snapshot + log give back the same state; timers survive."""

from __future__ import annotations

import time
from typing import Any

import pytest

from rfq.cluster.local import LocalCluster
from rfq.codecs.rfq_sbe import (
    AcceptQuote,
    AddInstrument,
    BooleanType,
    CounterQuote,
    CreateRfq,
    CreateRfqDealers,
    DealerPassed,
    EndReason,
    InstrumentAdded,
    PassRfq,
    QuoteCountered,
    QuoteSubmitted,
    RfqCreated,
    RfqEnded,
    RfqTraded,
    Side,
    SubmitQuote,
)
from rfq.gateway.command_client import CommandClient

pytestmark = [pytest.mark.system, pytest.mark.slow]

EXPIRY_AFTER_S = 30.0
"""Long enough for a snapshot, a stop, a restart and another snapshot to happen before it."""
DEALERS = (50, 51, 52)


class Session:
    """A command client that records outcomes and every event it hears."""

    def __init__(self, cluster: LocalCluster, gateway_id: int) -> None:
        self.outcomes: dict[int, Any] = {}
        self.events: list[Any] = []
        self.client = CommandClient(
            cluster.client_config(),
            gateway_id=gateway_id,
            on_outcome=self.outcomes.__setitem__,
            on_event=self.events.append,
        )

    def run(self, command_factory: Any) -> Any:
        """Submit one command and wait for its outcome."""
        correlation_id = self.client.submit(command_factory(self.client.next_correlation_id()))
        assert self.client.drain(30), "no outcome"
        return self.outcomes[correlation_id]

    def wait_for(self, predicate: Any, timeout_s: float) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.client.poll():
                time.sleep(0.001)
            matching = [e for e in self.events if predicate(e)]
            if matching:
                return matching
        return []


def create_rfq(instrument_id: int, user_id: int, expire_ms: int) -> Any:
    return lambda c: CreateRfq(
        correlation_id=c,
        user_id=user_id,
        instrument_id=instrument_id,
        side=Side.BUY,
        quantity=5_000_000,
        expire_time_ms=expire_ms,
        cl_ord_id=f"c{c % 100000}",
        dealers=[CreateRfqDealers(dealer_user_id=d) for d in DEALERS],
    )


def quote(rfq_id: int, dealer: int, price: int) -> Any:
    return lambda c: SubmitQuote(correlation_id=c, user_id=dealer, rfq_id=rfq_id, price=price)


def all_digests_at_newest(cluster: LocalCluster, count: int) -> tuple[int, str]:
    """Wait for ``count`` snapshots on every replica; return the one (position, digest) they share."""
    newest = {max(d.items()) for d in cluster.wait_for_digests(count, timeout_s=30) if d}
    assert len(newest) == 1, f"replicas disagree or lag: {newest}"
    return newest.pop()


def test_full_restart_restores_state_from_snapshot_and_log_and_fires_timer_once(
    three_nodes: LocalCluster,
) -> None:
    far = int(time.time() * 1000) + 3_600_000
    session = Session(three_nodes, gateway_id=3)
    session.client.connect(wait_s=60)
    try:
        added = session.run(
            lambda c: AddInstrument(
                correlation_id=c, user_id=1, min_quantity=1, enabled=BooleanType.TRUE, cusip="912828YK0"
            )
        )
        assert isinstance(added, InstrumentAdded)
        for user in range(2, 12):
            assert isinstance(session.run(create_rfq(added.instrument_id, user, far)), RfqCreated)
        assert three_nodes.take_snapshot(session.client.leader_member_id)
        all_digests_at_newest(three_nodes, 1)

        # after the first snapshot: more state that only the log holds, including a pending expiry
        quotes: dict[int, QuoteSubmitted] = {}
        for rfq_id in range(1, 6):
            quoted = session.run(quote(rfq_id, DEALERS[0], 99_50000000 + rfq_id))
            assert isinstance(quoted, QuoteSubmitted), quoted
            quotes[rfq_id] = quoted
        expire_ms = int(time.time() * 1000) + int(EXPIRY_AFTER_S * 1000)
        expiring = session.run(create_rfq(added.instrument_id, 12, expire_ms))
        assert isinstance(expiring, RfqCreated)
        live = session.run(quote(expiring.rfq_id, DEALERS[1], 99_75000000))  # a live quote in it
        assert isinstance(live, QuoteSubmitted), live
        passed = session.run(lambda c: PassRfq(correlation_id=c, user_id=DEALERS[2], rfq_id=expiring.rfq_id))
        assert isinstance(passed, DealerPassed), passed
        assert three_nodes.take_snapshot(session.client.leader_member_id)
        before = all_digests_at_newest(three_nodes, 2)
    finally:
        session.client.close()

    three_nodes.stop()
    for member in three_nodes.members:  # force a restore from the first snapshot plus the log
        assert three_nodes.invalidate_latest_snapshot(member)
    three_nodes.start()

    # another gateway id: correlation ids must not repeat the first session's (the cluster remembers)
    session = Session(three_nodes, gateway_id=4)
    session.client.connect(wait_s=60)
    try:
        assert three_nodes.take_snapshot(session.client.leader_member_id)
        after = all_digests_at_newest(three_nodes, 3)
        assert after[1] == before[1], "state after restart differs from the state before"
        assert after[0] > before[0]
        assert time.time() * 1000 < expire_ms, "the restart took longer than the expiry allows"

        # the quotes only the log held are live: the expiring RFQ's can be countered, another one hit
        countered = session.run(
            lambda c: CounterQuote(
                correlation_id=c,
                user_id=12,
                rfq_id=expiring.rfq_id,
                quote_id=live.quote_id,
                price=99_70000000,
            )
        )
        assert isinstance(countered, QuoteCountered), countered
        assert countered.counter_id > live.quote_id
        traded = session.run(
            lambda c: AcceptQuote(correlation_id=c, user_id=3, rfq_id=2, quote_id=quotes[2].quote_id)
        )
        assert isinstance(traded, RfqTraded), traded
        assert (traded.price, traded.dealer_user_id, traded.cover_price) == (99_50000002, DEALERS[0], None)

        # the pending deadline fires once: RfqEnded(EXPIRED) to the requester, then to each dealer that
        # has not passed (the one that never answered in it, the one whose quote is live)
        def expired(event: Any) -> bool:
            return isinstance(event, RfqEnded) and event.reason is EndReason.EXPIRED

        assert session.wait_for(expired, timeout_s=EXPIRY_AFTER_S + 15), "the deadline never fired"
        session.wait_for(lambda e: False, timeout_s=3)  # listen a while longer: it must not fire twice
        ended = [e for e in session.events if expired(e)]
        assert [(e.rfq_id, e.recipient_user_id) for e in ended] == [
            (expiring.rfq_id, 12),
            (expiring.rfq_id, DEALERS[0]),
            (expiring.rfq_id, DEALERS[1]),
        ], ended
        assert all(e.timestamp_ms >= expire_ms and e.correlation_id is None for e in ended), ended
    finally:
        session.client.close()
