"""Three real nodes under load, the leader SIGKILLed three times: exactly-once, one state, fast failover."""

from __future__ import annotations

import functools
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from rfq.cluster.local import LocalCluster
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    BooleanType,
    CreateRfq,
    CreateRfqDealers,
    InstrumentAdded,
    QuoteSubmitted,
    RfqCreated,
    Side,
    SubmitQuote,
)
from rfq.gateway.command_client import CommandClient

pytestmark = [pytest.mark.system, pytest.mark.slow]

RATE_PER_S = 300
KILLS = 3
FAILOVER_LIMIT_S = 5.0
DEALERS = (501, 502, 503)


class Workload:
    """Creates multi-dealer RFQs and quotes each once, at a steady rate; records every outcome.

    Each RFQ asks the three dealers; once its RfqCreated arrives, one of them quotes it. RFQ ids and
    quote ids are each assigned 1, 2, 3... by the cluster, so a command applied twice (or lost after
    its acknowledgement) shows as a gap or a repeat in either sequence.
    """

    def __init__(self, cluster: LocalCluster) -> None:
        self.outcomes: dict[int, Any] = {}
        self.created: dict[int, set[int]] = {}
        self.quoted: dict[int, set[int]] = {}
        """correlation id of a SubmitQuote → quote ids heard for it (a resend's answer repeats the id)."""
        self.to_quote: list[int] = []
        """RFQs created and not quoted yet."""
        self.quote_commands: dict[int, int] = {}
        """correlation id of a SubmitQuote → its RFQ."""
        self.client = CommandClient(
            cluster.client_config(), gateway_id=7, on_outcome=self._on_outcome, on_event=self._on_event
        )
        self.submitted_at: dict[int, float] = {}
        self.instrument_id = 0

    def _on_outcome(self, correlation_id: int, event: Any) -> None:
        self.outcomes[correlation_id] = event
        if isinstance(event, RfqCreated):
            self.to_quote.append(event.rfq_id)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, RfqCreated):
            self.created.setdefault(event.correlation_id, set()).add(event.rfq_id)
        elif isinstance(event, QuoteSubmitted) and event.correlation_id is not None:
            self.quoted.setdefault(event.correlation_id, set()).add(event.quote_id)

    def add_instrument(self) -> None:
        correlation_id = self.client.submit(
            AddInstrument(
                correlation_id=self.client.next_correlation_id(),
                user_id=1,
                min_quantity=1,
                enabled=BooleanType.TRUE,
                cusip="037833100",
            )
        )
        assert self.client.drain(30), "AddInstrument got no outcome"
        added = self.outcomes[correlation_id]
        assert isinstance(added, InstrumentAdded), added
        self.instrument_id = added.instrument_id

    def create(self) -> int:
        sequence = len(self.submitted_at)
        command = CreateRfq(
            correlation_id=self.client.next_correlation_id(),
            user_id=2 + sequence % 50,
            instrument_id=self.instrument_id,
            side=Side.BUY if sequence % 2 else Side.SELL,
            quantity=1_000_000,
            expire_time_ms=int(time.time() * 1000) + 3_600_000,
            cl_ord_id=f"ord-{sequence}",
            dealers=[CreateRfqDealers(dealer_user_id=d) for d in DEALERS],
        )
        correlation_id = self.client.submit(command)
        self.submitted_at[correlation_id] = time.monotonic()
        return correlation_id

    def quote(self, rfq_id: int) -> int:
        command = SubmitQuote(
            correlation_id=self.client.next_correlation_id(),
            user_id=DEALERS[rfq_id % len(DEALERS)],
            rfq_id=rfq_id,
            price=99_00000000 + rfq_id,
        )
        correlation_id = self.client.submit(command)
        self.submitted_at[correlation_id] = time.monotonic()
        self.quote_commands[correlation_id] = rfq_id
        return correlation_id

    def next_command(self) -> None:
        """Quote an RFQ waiting for it, else create one."""
        if self.to_quote:
            self.quote(self.to_quote.pop(0))
        else:
            self.create()

    def run_for(self, seconds: float) -> None:
        """Keep submitting at RATE_PER_S and polling for ``seconds``."""
        start = time.monotonic()
        sent = 0
        while (now := time.monotonic()) - start < seconds:
            if sent < (now - start) * RATE_PER_S:
                self.next_command()
                sent += 1
            elif not self.client.poll():
                time.sleep(0.0005)

    def run_until(self, condition: Callable[[], bool], timeout_s: float) -> None:
        """Keep the load on until ``condition()`` (checked every 0.2 s) holds."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, "the condition never held"
            self.run_for(0.2)

    def first_answer_after(self, moment: float, timeout_s: float) -> float:
        """Seconds from ``moment`` until a command submitted after it is answered (keeps the load on)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.run_for(0.05)
            answered = [self.submitted_at[c] for c in self.outcomes if self.submitted_at.get(c, 0.0) > moment]
            if answered:
                return time.monotonic() - moment
        return float("inf")


def _status(cluster: LocalCluster, member: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{cluster.status_url(member)}/status", timeout=2) as response:
            status: dict[str, Any] = json.loads(response.read())
            return status
    except (OSError, ValueError):
        return None


def rejoined(cluster: LocalCluster, member: int) -> bool:
    """The member follows the current leader and has applied the log up to (nearly) its commit position."""
    statuses = [_status(cluster, m) for m in cluster.members]
    mine = statuses[member]
    leaders = [s for s in statuses if s is not None and s["role"] == "leader"]
    if mine is None or len(leaders) != 1 or mine["role"] != "follower":
        return False
    leader = leaders[0]
    return bool(
        mine["leadership_term_id"] == leader["leadership_term_id"]
        and mine["log_position"] >= leader["commit_position"] - 64 * 1024
    )


def test_leader_killed_three_times_keeps_exactly_once_and_same_state(three_nodes: LocalCluster) -> None:
    load = Workload(three_nodes)
    load.client.connect(wait_s=60)
    try:
        load.add_instrument()
        load.run_for(3.0)
        failovers = []
        for _ in range(KILLS):
            leader = load.client.leader_member_id
            killed_at = time.monotonic()
            three_nodes.kill(leader)
            failovers.append(load.first_answer_after(killed_at, timeout_s=30))
            load.run_for(1.0)
            three_nodes.start(leader)  # the killed node comes back and catches up from the new leader
            # the next kill hits a whole cluster: a member still starting would leave no quorum, and the
            # failover would wait for its JVM (seconds on a busy machine), not for the election
            load.run_until(functools.partial(rejoined, three_nodes, leader), timeout_s=90)
            load.run_for(3.0)
        assert load.client.drain(60), f"{load.client.pending} commands never got an outcome"

        # exactly once: rfq ids are assigned 1, 2, 3... so any double effect would leave a gap or a repeat
        creates = [c for c in load.submitted_at if c not in load.quote_commands]
        acknowledged = [c for c in creates if isinstance(load.outcomes.get(c), RfqCreated)]
        assert len(acknowledged) == len(creates)
        rfq_ids = sorted(load.outcomes[c].rfq_id for c in acknowledged)
        assert rfq_ids == list(range(1, len(acknowledged) + 1))
        assert all(len(ids) == 1 for ids in load.created.values()), "a command created two RFQs"
        # the same for quotes: quote ids 1, 2, 3..., each RFQ quoted once, by the dealer that was asked to
        quotes: dict[int, Any] = {c: load.outcomes.get(c) for c in load.quote_commands}
        assert all(isinstance(q, QuoteSubmitted) for q in quotes.values()), [
            q for q in quotes.values() if not isinstance(q, QuoteSubmitted)
        ][:5]
        assert sorted(q.quote_id for q in quotes.values()) == list(range(1, len(quotes) + 1))
        assert all(len(ids) == 1 for ids in load.quoted.values()), "a command made two quotes"
        for correlation_id, quote in quotes.items():
            rfq_id = load.quote_commands[correlation_id]
            assert (quote.rfq_id, quote.dealer_user_id) == (rfq_id, DEALERS[rfq_id % len(DEALERS)])
            assert quote.replaced_quote_id is None, "a quote replaced another: applied twice"
        assert len(quotes) > len(creates) / 2, f"only {len(quotes)} quotes for {len(creates)} RFQs"
        probe = load.create()
        assert load.client.drain(30)
        assert load.outcomes[probe].rfq_id == len(acknowledged) + 1

        # the same state on all three replicas: a snapshot at one log position, compared by digest
        assert three_nodes.take_snapshot(load.client.leader_member_id)
        digests = three_nodes.wait_for_digests(1, timeout_s=30)
        last = [max(d.items()) for d in digests]
        assert len(set(last)) == 1, f"replicas differ at their last snapshot: {last}"
    finally:
        load.client.close()

    print(f"failover (kill → first answer to a new command), s: {[round(f, 2) for f in failovers]}")
    print(
        f"commands: {len(load.submitted_at)}, resends: {load.client.resends}, "
        f"leader changes seen: {load.client.leader_changes}, reconnects: {load.client.reconnects}"
    )
    assert all(f < FAILOVER_LIMIT_S for f in failovers), failovers
