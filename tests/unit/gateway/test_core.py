"""The gateway core over a fake cluster: the thread hand-off, restarts, duplicates and resyncs.

The fake cluster hosts the real state machine behind a transport with the CommandClient's contract,
so these tests run the core's real cluster thread and event loop without a JVM.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    BooleanType,
    CommandRejected,
    CreateRfq,
    CreateRfqDealers,
    InstrumentAdded,
    RejectReason,
    RfqCreated,
    Side,
    SubmitQuote,
)
from rfq.gateway.command_client import CorrelationIds
from rfq.gateway.core import GatewayCore
from rfq.gateway.identity import Directory
from rfq.gateway.streams import GapError
from rfq.gateway.testing import FakeCluster

T = TypeVar("T")
ALICE, BOB, A, B = 101, 102, 201, 202


def run(test: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(test(), 20))


async def started(tmp_path: Path, cluster: FakeCluster, gateway_id: int = 1) -> GatewayCore:
    core = GatewayCore(
        Directory(tmp_path / f"gw{gateway_id}.sqlite"), cluster.transport_factory(), gateway_id
    )
    await core.start()
    assert await core.wait_ready(10)
    return core


async def command(core: GatewayCore, make: Callable[[int], Any]) -> Any:
    correlation_id = core.next_correlation_id()
    return await asyncio.wait_for(core.submit(correlation_id, rfq_sbe.encode(make(correlation_id))), 5)


def add_instrument(c: int) -> AddInstrument:
    return AddInstrument(
        correlation_id=c, user_id=1, min_quantity=1, enabled=BooleanType.TRUE, cusip="912828YK0"
    )


def create(user: int = ALICE, dealers: tuple[int, ...] = (A, B)) -> Callable[[int], CreateRfq]:
    return lambda c: CreateRfq(
        correlation_id=c, user_id=user, instrument_id=1, side=Side.BUY, quantity=10,
        expire_time_ms=4_000_000_000_000, cl_ord_id="x",
        dealers=[CreateRfqDealers(dealer_user_id=d) for d in dealers],
    )  # fmt: skip


def quote(rfq_id: int, dealer: int, price: int) -> Callable[[int], SubmitQuote]:
    return lambda c: SubmitQuote(
        correlation_id=c, user_id=dealer, rfq_id=rfq_id, price=price, valid_until_ms=None
    )


def entries(core: GatewayCore, user: int) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event, json.loads(e.data)) for e in core.streams.read(user, 0)]


def test_commands_are_answered_through_the_thread_hand_off(tmp_path: Path) -> None:
    async def scenario() -> None:
        cluster = FakeCluster()
        core = await started(tmp_path, cluster)
        try:
            added = await command(core, add_instrument)
            assert isinstance(added, InstrumentAdded)
            created = await command(core, create())
            assert isinstance(created, RfqCreated) and created.correlation_id is not None
            refused = await command(core, create(user=A, dealers=(A,)))
            assert isinstance(refused, CommandRejected) and refused.reason is RejectReason.REQUESTER_AS_DEALER
            assert [e for e, _ in entries(core, ALICE)] == ["instrument_added", "rfq_created"]
            assert [e for e, _ in entries(core, A)] == ["instrument_added", "rfq_invited"]
            assert core.directory.instruments()[0].cusip == "912828YK0"
        finally:
            await core.stop()

    run(scenario)


def test_a_restarted_gateway_is_never_answered_for_its_earlier_life(tmp_path: Path) -> None:
    """The issue's bug: ids restarting at 1 made the cluster answer new commands with old outcomes."""

    async def scenario() -> None:
        cluster = FakeCluster()
        first = await started(tmp_path, cluster)
        first_ids = [await command(first, add_instrument)]
        await first.stop()
        first.directory.close()
        second = await started(tmp_path, cluster)
        try:
            assert second.start_epoch == first.start_epoch + 1
            outcome = await command(second, create())
            assert isinstance(outcome, RfqCreated), outcome  # applied, not an old InstrumentAdded
            assert CorrelationIds.split(outcome.correlation_id)[1] == second.start_epoch
            assert first_ids[0].correlation_id != outcome.correlation_id
            assert 1 in second.mirror.instruments and 1 in second.mirror.active  # learnt from the cluster
        finally:
            await second.stop()

    run(scenario)


def test_lost_broadcasts_come_back_with_the_resend_and_are_streamed_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        cluster = FakeCluster()
        core = await started(tmp_path, cluster)
        try:
            await command(core, add_instrument)
            session = cluster._sessions[0]
            session.deaf = True  # the outcome is lost, as a reply in flight when a leader dies
            applied = cluster.commands
            correlation_id = core.next_correlation_id()
            future = core.submit(correlation_id, rfq_sbe.encode(create()(correlation_id)))
            await asyncio.sleep(0.2)
            assert not future.done() and cluster.commands == applied + 1
            cluster.new_leader()  # resend: the cluster answers the duplicate to this session
            outcome = await asyncio.wait_for(future, 5)
            assert isinstance(outcome, RfqCreated)
            assert cluster.commands >= applied + 2  # the resend
            assert [e for e, _ in entries(core, ALICE)] == ["instrument_added", "rfq_created"]
            assert [e for e, _ in entries(core, A)] == ["instrument_added", "rfq_invited"]
            await asyncio.sleep(0.1)
            assert core.mirror.active[1].dealers.keys() == {A, B}
        finally:
            await core.stop()

    run(scenario)


def test_a_duplicate_answer_to_a_received_outcome_is_not_streamed_twice(tmp_path: Path) -> None:
    async def scenario() -> None:
        cluster = FakeCluster()
        core = await started(tmp_path, cluster)
        try:
            await command(core, add_instrument)
            created = await command(core, create())
            # the same command again (as a resend after a leader change would be)
            frame = rfq_sbe.encode(create()(created.correlation_id))
            again = await asyncio.wait_for(core.submit(created.correlation_id, frame), 5)
            assert again == created
            assert core.duplicates >= 3
            assert [e for e, _ in entries(core, ALICE)] == ["instrument_added", "rfq_created"]
        finally:
            await core.stop()

    run(scenario)


def test_missed_events_of_other_gateways_lead_to_a_resync_barrier(tmp_path: Path) -> None:
    async def scenario() -> None:
        cluster = FakeCluster()
        core = await started(tmp_path, cluster, gateway_id=1)
        other = await started(tmp_path, cluster, gateway_id=2)
        try:
            await command(other, add_instrument)
            created = await command(other, create())
            await asyncio.sleep(0.1)
            cursor_a, cursor_b = core.streams.seq, core.streams.seq
            cluster._sessions[0].deaf = True  # gateway 1 misses A's quote
            await command(other, quote(created.rfq_id, A, 99_00000000))
            cluster.new_leader()
            deadline = asyncio.get_running_loop().time() + 5
            while core.mirror.active[created.rfq_id].dealers[A].quote is None:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.02)
            for user in (ALICE, A):  # their views changed: they get a snapshot
                try:
                    core.streams.read(user, cursor_a)
                    raise AssertionError(f"user {user} has no barrier")
                except GapError as gap:
                    assert gap.reason == "resync"
            assert core.streams.read(B, cursor_b) == []  # B's view did not change
        finally:
            await core.stop()
            await other.stop()

    run(scenario)


def test_a_command_of_an_earlier_life_resent_after_a_restart_answers_without_replaying(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        cluster = FakeCluster()
        first = await started(tmp_path, cluster)
        await command(first, add_instrument)
        cluster._sessions[0].deaf = True  # applied, but the first life never hears of it
        correlation_id = first.next_correlation_id()
        frame = rfq_sbe.encode(create()(correlation_id))
        first.submit(correlation_id, frame)
        await asyncio.sleep(0.2)
        await first.stop()
        first.directory.close()
        second = await started(tmp_path, cluster)
        try:
            assert 1 in second.mirror.active  # learnt from the state answer
            before = second.streams.seq
            outcome = await asyncio.wait_for(second.submit(correlation_id, frame), 5)  # a client's retry
            assert isinstance(outcome, RfqCreated) and outcome.correlation_id == correlation_id
            await asyncio.sleep(0.1)
            assert second.streams.seq == before  # nothing streamed again: it was in the state answer
        finally:
            await second.stop()

    run(scenario)
