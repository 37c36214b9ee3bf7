"""Malformed frames mixed into valid traffic on three nodes; clients without the secret are refused."""

from __future__ import annotations

import random
import struct
import time
from typing import Any

import pytest

from rfq.cluster.domain.messages import COMMAND_TYPES
from rfq.cluster.local import LocalCluster
from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    BooleanType,
    CommandRejected,
    CreateRfq,
    CreateRfqDealers,
    InstrumentAdded,
    QuoteSubmitted,
    RejectReason,
    RfqCreated,
    RfqInvited,
    Side,
)
from rfq.gateway.cluster_client import ClusterClient, ClusterClientError

pytestmark = [pytest.mark.system, pytest.mark.slow]

BAD_FRAMES = 10_000
VALID_EVERY = 4
"""One valid command after every few bad frames."""
FRAME_REASONS = {
    RejectReason.MALFORMED_FRAME,
    RejectReason.UNKNOWN_TEMPLATE,
    RejectReason.WRONG_SCHEMA,
    RejectReason.UNSUPPORTED_VERSION,
    RejectReason.INVALID_FIELD,
}
HEADER = struct.Struct("<HHHH")
USER_ID = struct.Struct("<i")
USER_ID_OFFSET = HEADER.size + 8
"""Every command's body starts with correlationId (int64), then userId (int32)."""
DEALERS = (301, 302)
COMMAND_TEMPLATES = frozenset(command.TEMPLATE_ID for command in COMMAND_TYPES)


def sender_of(frame: bytes) -> int | None:
    """The user id a refusal of ``frame`` names: the int32 where every command keeps it, if readable
    and if the header names a command of this schema (elsewhere offset 8 holds something else)."""
    if len(frame) < USER_ID_OFFSET + USER_ID.size:
        return None
    _, template_id, schema_id, _ = HEADER.unpack_from(frame)
    if schema_id != rfq_sbe.SCHEMA_ID or template_id not in COMMAND_TEMPLATES:
        return None
    (user_id,) = USER_ID.unpack_from(frame, USER_ID_OFFSET)
    return user_id if user_id >= 1 else None


def bad_frames(valid: bytes, count: int, seed: int = 20261121) -> list[bytes]:
    """Deterministic malformed frames of every kind the service must survive (none decodes)."""
    rng = random.Random(seed)
    block_length, template_id, schema_id, version = HEADER.unpack_from(valid)
    body = valid[HEADER.size :]
    event = rfq_sbe.encode(
        QuoteSubmitted(
            recipient_user_id=3,
            correlation_id=1,
            rfq_id=1,
            quote_id=1,
            dealer_user_id=3,
            price=1,
            valid_until_ms=2,
            timestamp_ms=1,
        )
    )
    makers = [
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 7))),  # shorter than a header
        lambda: HEADER.pack(block_length, template_id, 999, version) + body,  # wrong schema
        lambda: HEADER.pack(block_length, 999, schema_id, version) + body,  # unknown template
        lambda: valid[: rng.randint(HEADER.size, len(valid) - 1)],  # truncated
        lambda: HEADER.pack(2, template_id, schema_id, version) + body[:2],  # block too short
        lambda: valid[:24] + bytes([7]) + valid[25:],  # CreateRfq.side (after header, ids) = 7: no Side
        lambda: event,  # an event is not a command
        lambda: (
            HEADER.pack(block_length, template_id, 777, version)
            + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 120)))
        ),  # random body, wrong schema
    ]
    return [makers[i % len(makers)]() for i in range(count)]


def test_malformed_frames_are_answered_and_valid_commands_all_processed(three_nodes: LocalCluster) -> None:
    replies: list[Any] = []
    undecodable: list[bytes] = []

    def on_frame(frame: memoryview) -> None:
        try:
            replies.append(rfq_sbe.decode(frame))
        except Exception:
            undecodable.append(bytes(frame))

    client = ClusterClient(three_nodes.client_config(), on_frame)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.connect()
            break
        except ClusterClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)

    def send(frame: bytes) -> None:
        while not client.offer(frame):
            client.poll()
        client.poll()

    try:
        send(
            rfq_sbe.encode(
                AddInstrument(
                    correlation_id=1, user_id=1, min_quantity=1, enabled=BooleanType.TRUE, cusip="594918104"
                )
            )
        )
        while not replies:
            client.poll()
        assert isinstance(replies[0], InstrumentAdded)
        far = int(time.time() * 1000) + 3_600_000

        def create(n: int) -> bytes:
            return rfq_sbe.encode(
                CreateRfq(
                    correlation_id=1_000 + n,
                    user_id=2 + n % 20,
                    instrument_id=replies[0].instrument_id,
                    side=Side.SELL,
                    quantity=1_000_000,
                    expire_time_ms=far,
                    cl_ord_id=f"v{n}",
                    dealers=[CreateRfqDealers(dealer_user_id=d) for d in DEALERS],
                )
            )

        bad = bad_frames(create(0), BAD_FRAMES)
        valid_sent = 0
        for i, frame in enumerate(bad):
            send(frame)
            if i % VALID_EVERY == 0:
                send(create(valid_sent))
                valid_sent += 1
        expected = 1 + BAD_FRAMES + valid_sent * (1 + len(DEALERS))  # RfqCreated, then an RfqInvited each
        wait_until = time.monotonic() + 60
        while len(replies) + len(undecodable) < expected and time.monotonic() < wait_until:
            if not client.poll():
                time.sleep(0.001)
    finally:
        client.close()

    assert undecodable == []
    created = [r for r in replies if isinstance(r, RfqCreated)]
    rejected = [r for r in replies if isinstance(r, CommandRejected)]
    assert sorted(r.correlation_id for r in created) == [1_000 + n for n in range(valid_sent)]
    assert [r.rfq_id for r in created] == list(range(1, valid_sent + 1))
    invited = [r for r in replies if isinstance(r, RfqInvited)]
    assert sorted((r.rfq_id, r.dealer_user_id) for r in invited) == [
        (rfq_id, dealer) for rfq_id in range(1, valid_sent + 1) for dealer in DEALERS
    ]
    assert len(rejected) == BAD_FRAMES, f"{BAD_FRAMES - len(rejected)} bad frames went unanswered"
    assert {r.reason for r in rejected} <= FRAME_REASONS
    assert {r.reason for r in rejected} == FRAME_REASONS - {RejectReason.UNSUPPORTED_VERSION}
    # each refusal names its sender when the frame was long enough to read the user id (in order: one
    # session, answered in log order); the bad frames made from the valid CreateRfq carry user 2
    assert [r.user_id for r in rejected] == [sender_of(frame) for frame in bad]
    assert sum(r.user_id == 2 for r in rejected) >= BAD_FRAMES // 8  # bad Side, most truncations
    assert any(r.user_id is None for r in rejected)

    assert all(three_nodes.is_running(m) for m in three_nodes.members), "a node died"
    leader_hint = next(m for m in three_nodes.members if three_nodes.take_snapshot(m))
    digests = three_nodes.wait_for_digests(1, timeout_s=30)
    assert len({max(d.items()) for d in digests}) == 1, f"replicas differ (asked via member {leader_hint})"


@pytest.mark.parametrize("credentials", [b"not-the-secret", b""], ids=["wrong-secret", "no-secret"])
def test_a_client_without_the_cluster_secret_cannot_open_a_session(
    three_nodes: LocalCluster, credentials: bytes
) -> None:
    # first prove the cluster is up and admits the right secret
    good = ClusterClient(three_nodes.client_config(), lambda frame: None)
    deadline = time.monotonic() + 60
    while True:
        try:
            good.connect()
            break
        except ClusterClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    good.close()

    intruder = ClusterClient(three_nodes.client_config(credentials=credentials), lambda frame: None)
    with pytest.raises(ClusterClientError, match="authentication"):
        intruder.connect()
