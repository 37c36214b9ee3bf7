"""Stop all three nodes and start them again: snapshot + log give back the same state; timers survive."""

from __future__ import annotations

import time
from typing import Any

import pytest

from rfq.cluster.local import LocalCluster
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    BooleanType,
    CreateRfq,
    InstrumentAdded,
    QuoteRfq,
    RfqCreated,
    RfqExpired,
    RfqQuoted,
    Side,
)
from rfq.gateway.command_client import CommandClient

pytestmark = [pytest.mark.system, pytest.mark.slow]

EXPIRY_AFTER_S = 30.0
"""Long enough for a snapshot, a stop, a restart and another snapshot to happen before it."""


class Session:
    """A command client that records outcomes and every event it hears."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.outcomes: dict[int, Any] = {}
        self.events: list[Any] = []
        self.client = CommandClient(
            cluster.client_config(),
            gateway_id=3,
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
    )


def all_digests_at_newest(cluster: LocalCluster, count: int) -> tuple[int, str]:
    """Wait for ``count`` snapshots on every replica; return the one (position, digest) they share."""
    newest = {max(d.items()) for d in cluster.wait_for_digests(count, timeout_s=30) if d}
    assert len(newest) == 1, f"replicas disagree or lag: {newest}"
    return newest.pop()


def test_full_restart_restores_state_from_snapshot_and_log_and_fires_timer_once(
    three_nodes: LocalCluster,
) -> None:
    far = int(time.time() * 1000) + 3_600_000
    session = Session(three_nodes)
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
        for rfq_id in range(1, 6):
            quote = session.run(
                lambda c, r=rfq_id: QuoteRfq(correlation_id=c, user_id=50, rfq_id=r, price=99_50000000)
            )
            assert isinstance(quote, RfqQuoted), quote
        expire_ms = int(time.time() * 1000) + int(EXPIRY_AFTER_S * 1000)
        expiring = session.run(create_rfq(added.instrument_id, 12, expire_ms))
        assert isinstance(expiring, RfqCreated)
        assert three_nodes.take_snapshot(session.client.leader_member_id)
        before = all_digests_at_newest(three_nodes, 2)
    finally:
        session.client.close()

    three_nodes.stop()
    for member in three_nodes.members:  # force a restore from the first snapshot plus the log
        assert three_nodes.invalidate_latest_snapshot(member)
    three_nodes.start()

    session = Session(three_nodes)
    session.client.connect(wait_s=60)
    try:
        assert three_nodes.take_snapshot(session.client.leader_member_id)
        after = all_digests_at_newest(three_nodes, 3)
        assert after[1] == before[1], "state after restart differs from the state before"
        assert after[0] > before[0]
        assert time.time() * 1000 < expire_ms, "the restart took longer than the expiry allows"

        expired = session.wait_for(lambda e: isinstance(e, RfqExpired), timeout_s=EXPIRY_AFTER_S + 15)
        assert [e.rfq_id for e in expired] == [expiring.rfq_id]
        assert expired[0].timestamp_ms >= expire_ms
        session.wait_for(lambda e: False, timeout_s=3)  # listen a while longer: it must not fire twice
        assert [e.rfq_id for e in session.events if isinstance(e, RfqExpired)] == [expiring.rfq_id]
    finally:
        session.client.close()
