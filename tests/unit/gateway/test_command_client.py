"""CommandClient's bookkeeping of pending commands (what to send, what to resend, when), over a stand-in
for the Aeron session: offers are recorded, and one can be refused. The real session is exercised by
the integration and system tests (failover with exactly-once)."""

from __future__ import annotations

from typing import Any

from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import BooleanType, InstrumentEnabled
from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.command_client import CommandClient


class Session:
    """Records each frame offered; ``refuse`` makes offers fail (back pressure, no leader)."""

    def __init__(self) -> None:
        self.offered: list[bytes] = []
        self.refuse = False
        self.egress: list[bytes] = []
        self.on_frame: Any = None

    def offer(self, frame: bytes) -> bool:
        if self.refuse:
            return False
        self.offered.append(bytes(frame))
        return True

    def poll(self) -> int:
        frames, self.egress = self.egress, []
        for frame in frames:
            self.on_frame(memoryview(frame))
        return len(frames)

    @property
    def is_closed(self) -> bool:
        return False


def client() -> tuple[CommandClient, Session, list[float]]:
    clock = [100.0]
    commands = CommandClient(
        ClientConfig("0=localhost:1"), gateway_id=2, resend_after_s=3.0, clock=lambda: clock[0]
    )
    session = Session()
    session.on_frame = commands._on_frame
    commands._client = session  # type: ignore[assignment]
    return commands, session, clock


def outcome(correlation_id: int) -> bytes:
    return rfq_sbe.encode(
        InstrumentEnabled(
            correlation_id=correlation_id, timestamp_ms=1, instrument_id=1, enabled=BooleanType.TRUE
        )
    )


def test_each_command_is_sent_once_then_resent_oldest_first_when_due() -> None:
    commands, session, clock = client()
    for n in (1, 2, 3):
        commands.submit_frame(n, f"frame-{n}".encode())
        clock[0] += 1.0
    assert session.offered == [b"frame-1", b"frame-2", b"frame-3"]
    commands.poll()
    assert len(session.offered) == 3  # none is due yet
    clock[0] += 0.5  # frame-1 was offered 3.5 s ago, frame-2 2.5 s ago
    session.egress.append(outcome(2))  # frame-2's outcome arrives meanwhile
    commands.poll()
    assert session.offered[3:] == [b"frame-1"] and commands.resends == 1
    clock[0] += 2.0  # frame-3 is due (3.5 s); frame-1 was resent 2 s ago; frame-2 is answered
    commands.poll()
    assert session.offered[4:] == [b"frame-3"] and commands.pending == 2


def test_a_refused_offer_is_made_again_at_the_next_poll_in_order() -> None:
    commands, session, _ = client()
    session.refuse = True
    commands.submit_frame(1, b"one")
    commands.submit_frame(2, b"two")
    commands.poll()
    assert session.offered == []
    session.refuse = False
    assert commands.poll() == 2
    assert session.offered == [b"one", b"two"] and commands.resends == 0


def test_a_new_leader_gets_every_pending_command_again_and_answered_ones_never() -> None:
    commands, session, _ = client()
    for n in (3, 1, 2):
        commands.submit_frame(n, f"frame-{n}".encode())
    session.egress.append(outcome(3))
    commands.poll()
    commands._on_new_leader(1)
    commands.poll()
    assert session.offered[3:] == [b"frame-1", b"frame-2"]  # by correlation id: oldest first
    session.egress.extend([outcome(1), outcome(2)])
    commands.poll()
    commands._on_new_leader(2)
    commands.poll()
    assert len(session.offered) == 5 and commands.pending == 0


class CountingDict(dict[int, Any]):
    """Counts the pending commands a poll looks at."""

    looked_at = 0

    def __getitem__(self, key: int) -> Any:
        CountingDict.looked_at += 1
        return super().__getitem__(key)

    def values(self) -> Any:
        CountingDict.looked_at += len(self)
        return super().values()


def test_a_poll_looks_at_the_commands_due_not_at_every_pending_one() -> None:
    commands, session, clock = client()
    for n in range(1, 5_001):  # a gateway that fell behind: thousands in flight, none due yet
        commands.submit_frame(n, b"f")
    commands._pending = CountingDict(commands._pending)
    CountingDict.looked_at = 0
    for _ in range(100):
        commands.poll()
    assert CountingDict.looked_at <= 100, CountingDict.looked_at
    clock[0] += 3.5
    commands.poll()
    assert len(session.offered) == 10_000  # all due now: each resent once
