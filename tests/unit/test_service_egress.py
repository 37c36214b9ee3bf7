"""Only the leader encodes egress (no JVM: RfqService driven directly, its action records read back).

A follower's egress would be dropped by Aeron (MOCKED_OFFER whenever the service's role is not
LEADER), so a follower must write no REPLY or BROADCAST record, yet apply every command and schedule
every timer exactly as the leader does: the replicas' state, and so their snapshots, stay identical.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rfq.cluster.host import BROADCAST, HEADER, REPLY, SCHEDULE_TIMER, Actions
from rfq.cluster.service import LEADER, RfqService, encode_records
from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import AddInstrument, BooleanType, CancelRfq, CreateRfq, CreateRfqDealers, Side

NOW = 1_700_000_000_000
FOLLOWER, CANDIDATE = 0, 1


def frames() -> list[bytes]:
    create = CreateRfq(
        correlation_id=2,
        user_id=10,
        instrument_id=1,
        side=Side.BUY,
        quantity=100,
        expire_time_ms=NOW + 60_000,
        cl_ord_id="x",
        dealers=[CreateRfqDealers(dealer_user_id=20), CreateRfqDealers(dealer_user_id=21)],
    )
    add = AddInstrument(
        correlation_id=1, user_id=1, min_quantity=1, enabled=BooleanType.TRUE, cusip="037833100"
    )
    return [
        rfq_sbe.encode(add),
        rfq_sbe.encode(create),
        rfq_sbe.encode(CancelRfq(correlation_id=3, user_id=11, rfq_id=1)),  # refused: NOT_A_PARTY
        b"\x01\x02",  # refused before decoding: MALFORMED_FRAME
    ]


def kinds(actions: Actions, buffer: bytearray) -> Iterator[int]:
    """The kind of every action record written, in order."""
    at = 0
    while at < actions.position:
        kind, length, _, _ = HEADER.unpack_from(buffer, at)
        yield kind
        at += HEADER.size + ((length + 7) & ~7)


def run(role: int | None) -> tuple[RfqService, list[list[int]]]:
    service = RfqService()
    if role is not None:
        service.on_role_change(role)
    buffer = bytearray(1 << 16)
    actions = Actions(memoryview(buffer))
    written = []
    for frame in frames():
        actions.position = 0
        service.on_message(1, NOW, memoryview(frame), actions)
        written.append(list(kinds(actions, buffer)))
    actions.position = 0
    service.on_timer(1, NOW + 60_000, actions)  # the RFQ expires: RfqEnded to its three parties
    written.append(list(kinds(actions, buffer)))
    return service, written


def test_the_leader_writes_every_event() -> None:
    _, written = run(LEADER)
    assert written == [
        [BROADCAST],  # InstrumentAdded
        [SCHEDULE_TIMER, BROADCAST, BROADCAST, BROADCAST],  # RfqCreated, RfqInvited to each dealer
        [REPLY],  # CommandRejected to the sender
        [REPLY],  # CommandRejected before decoding
        [BROADCAST, BROADCAST, BROADCAST],  # RfqEnded(EXPIRED)
    ]


@pytest.mark.parametrize("role", [None, FOLLOWER, CANDIDATE])
def test_a_follower_writes_only_its_timers_and_ends_in_the_leaders_state(role: int | None) -> None:
    follower, written = run(role)
    assert written == [[], [SCHEDULE_TIMER], [], [], []]
    leader, _ = run(LEADER)
    assert encode_records(follower.machine.snapshot()) == encode_records(leader.machine.snapshot())
    assert follower.stats.commands == leader.stats.commands
    assert follower.malformed_frames == leader.malformed_frames == 1
