"""The FIX gateway over a fake cluster and a fake engine: logon, the whole multi-dealer flow, refusals,
and what a logged-out user gets at its next logon. No JVM: the engine's part (the session layer) is
the integration test's business (tests/integration/test_fix_gateway.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import AddInstrument, BooleanType
from rfq.gateway.fix.engine import Item
from rfq.gateway.fix.fields import SOH, FixMessage, utc_timestamp
from rfq.gateway.fix.gateway import FixGateway, FixSettings
from rfq.gateway.identity import Directory
from rfq.gateway.testing import FakeCluster

T = TypeVar("T")
CUSIP = "912828YK0"
USERS = [
    ("alice", "trader", 101),
    ("dealer-a", "dealer", 201),
    ("dealer-b", "dealer", 202),
    ("dealer-c", "dealer", 203),
    ("ops", "operator", 1),
]
LOGINS = {
    "ALICE": ("alice", "pw-a"),
    "DA": ("dealer-a", "pw-da"),
    "DB": ("dealer-b", "pw-db"),
    "OPS": ("ops", "pw-ops"),
}


class FakeEngine:
    """Records what the gateway sends; lets the test play the engine's part."""

    def __init__(self) -> None:
        self.sent: dict[str, list[FixMessage]] = {}
        self.answers: dict[int, tuple[int, str]] = {}
        self._post: Callable[[list[Item]], None] | None = None
        self._tokens = 0
        self._seq: dict[str, int] = {}
        self._answered = threading.Condition()

    def start(self, on_items: Callable[[list[Item]], None]) -> None:
        self._post = on_items

    def stop(self, force: bool = False) -> None:
        self._post = None

    def send_many(self, messages: list[tuple[str, FixMessage]]) -> int:
        for session, message in messages:
            self.sent.setdefault(session, []).append(message)
        return 0

    def answer_logon(self, token: int, user_id: int, refusal: str = "") -> None:
        with self._answered:
            self.answers[token] = (user_id, refusal)
            self._answered.notify_all()

    # --- the test's side ----------------------------------------------------------------------------
    async def logon(self, sender: str, password: str) -> tuple[str, int, str]:
        assert self._post is not None
        self._tokens += 1
        token, session = self._tokens, f"FIX.4.4:RFQGW->{sender}"
        self._post([Item("L", session, (str(token), sender, password))])
        for _ in range(400):
            if token in self.answers:
                break
            await asyncio.sleep(0.01)
        user_id, refusal = self.answers[token]
        if not refusal:
            self._post([Item("O", session, (str(user_id),))])
            await asyncio.sleep(0.01)
        return session, user_id, refusal

    def logout(self, session: str) -> None:
        assert self._post is not None
        self._post([Item("X", session, ())])

    def message(self, session: str, message: FixMessage) -> None:
        assert self._post is not None
        seq = self._seq[session] = self._seq.get(session, 1) + 1
        raw = (
            f"8=FIX.4.4{SOH}9=0{SOH}35={message.msg_type}{SOH}34={seq}{SOH}"
            + SOH.join(f"{t}={v}" for t, v in message.fields)
            + f"{SOH}10=000{SOH}"
        )
        self._post([Item("M", session, (str(seq), raw))])

    def take(self, session: str) -> list[FixMessage]:
        return self.sent.pop(session, [])


def run(test: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(test(), 30))


async def started(tmp_path: Path, cluster: FakeCluster, engine: FakeEngine) -> FixGateway:
    directory = Directory(tmp_path / "gateway.sqlite")
    for name, role, user_id in USERS:
        directory.add_user(name, role, user_id=user_id)
    for sender, (name, password) in LOGINS.items():
        user = directory.user_by_name(name)
        assert user is not None
        directory.set_fix_login(sender, user.user_id, password)
    directory.close()
    gateway = FixGateway(FixSettings(data_dir=tmp_path), cluster.transport_factory(), engine)
    await gateway.start()
    for _ in range(500):
        if gateway.ready:
            break
        await asyncio.sleep(0.01)
    assert gateway.core is not None
    core = gateway.core
    c = core.next_correlation_id()
    add = AddInstrument(
        correlation_id=c, user_id=1, min_quantity=1_000, enabled=BooleanType.TRUE, cusip=CUSIP
    )
    await asyncio.wait_for(core.submit(c, rfq_sbe.encode(add)), 5)
    return gateway


async def settle(engine: FakeEngine, sessions: dict[str, int], timeout_s: float = 3.0) -> None:
    """Wait until each session has at least the given number of messages."""
    for _ in range(int(timeout_s / 0.01)):
        if all(len(engine.sent.get(s, [])) >= n for s, n in sessions.items()):
            await asyncio.sleep(0.02)
            return
        await asyncio.sleep(0.01)
    raise AssertionError({s: [str(m) for m in engine.sent.get(s, [])] for s in sessions})


def fields(message: FixMessage) -> dict[int, str]:
    found: dict[int, str] = {}
    for tag, value in message.fields:
        found.setdefault(tag, value)
    return found


def quote_request(quote_req_id: str, dealers: list[str], expire_ms: int, side: str = "1") -> FixMessage:
    message = FixMessage("R").add(131, quote_req_id).add(146, 1).add(55, "[N/A]").add(48, CUSIP).add(22, 1)
    message.add(54, side).add(38, 5_000_000).add(126, utc_timestamp(expire_ms))
    if dealers:
        message.add(453, len(dealers))
        for name in dealers:
            message.add(448, name).add(447, "D").add(452, 35)
    return message


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def test_logon_binds_a_session_to_a_user_and_refuses_the_rest(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = FakeEngine()
        gateway = await started(tmp_path, FakeCluster(), engine)
        try:
            assert (await engine.logon("ALICE", "pw-a"))[1:] == (101, "")
            assert (await engine.logon("ALICE", "wrong"))[2] == "unknown SenderCompID or wrong password"
            assert (await engine.logon("NOBODY", "pw-a"))[2] == "unknown SenderCompID or wrong password"
            assert "operators" in (await engine.logon("OPS", "pw-ops"))[2]
            assert gateway.refused_logons == 3
            assert gateway.sessions() == {"FIX.4.4:RFQGW->ALICE": 101}
        finally:
            await gateway.stop()

    run(scenario)


def test_the_multi_dealer_flow_over_fix(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = FakeEngine()
        gateway = await started(tmp_path, FakeCluster(), engine)
        try:
            alice, _, _ = await engine.logon("ALICE", "pw-a")
            da, _, _ = await engine.logon("DA", "pw-da")
            db, _, _ = await engine.logon("DB", "pw-db")
            expire = now_ms() + 300_000
            engine.message(alice, quote_request("alice-1", ["dealer-a", "dealer-b", "dealer-c"], expire))
            await settle(engine, {alice: 1, da: 1, db: 1})
            (ack,) = engine.take(alice)
            assert ack.msg_type == "AI" and fields(ack)[297] == "0" and fields(ack)[131] == "alice-1"
            rfq_id = fields(ack)[117]
            (request_a,) = engine.take(da)
            (request_b,) = engine.take(db)
            for request in (request_a, request_b):
                got = fields(request)
                assert request.msg_type == "R" and got[131] == rfq_id and got[20001] == "3"
                assert got[48] == CUSIP and got[54] == "1" and got[38] == "5000000"
                assert got[448] == "alice" and got[452] == "13"
                assert "alice-1" not in str(request)

            engine.message(
                da, FixMessage("S").add(131, rfq_id).add(117, "DA-Q1").add(55, "[N/A]").add(133, "99.5")
            )
            engine.message(
                db, FixMessage("S").add(131, rfq_id).add(117, "DB-Q1").add(55, "[N/A]").add(133, "99.6")
            )
            await settle(engine, {alice: 2, da: 1, db: 1})
            acks = {s: engine.take(s)[0] for s in (da, db)}
            assert fields(acks[da])[117] == "DA-Q1" and fields(acks[da])[297] == "0"
            assert fields(acks[db])[133] == "99.6"
            quotes = engine.take(alice)
            assert [m.msg_type for m in quotes] == ["S", "S"]
            by_dealer = {fields(m)[448]: fields(m) for m in quotes}
            assert by_dealer["dealer-a"][133] == "99.5" and by_dealer["dealer-a"][131] == "alice-1"
            quote_a = by_dealer["dealer-a"][117]

            counter = FixMessage("AJ").add(693, "alice-c1").add(117, quote_a).add(694, 2).add(55, "[N/A]")
            engine.message(alice, counter.add(44, "99.4"))
            await settle(engine, {alice: 1, da: 1})
            (counter_ack,) = engine.take(alice)
            assert (counter_ack.msg_type, fields(counter_ack)[537], fields(counter_ack)[693]) == (
                "AI",
                "3",
                "alice-c1",
            )
            (counter_to_a,) = engine.take(da)
            got = fields(counter_to_a)
            assert (counter_to_a.msg_type, got[537], got[131], got[133]) == ("S", "3", rfq_id, "99.4")
            assert engine.take(db) == []

            accept = FixMessage("AJ").add(693, "DA-R1").add(117, got[117]).add(694, 1).add(55, "[N/A]")
            engine.message(da, accept)
            await settle(engine, {alice: 1, da: 2, db: 1})
            (report,) = engine.take(alice)
            got = fields(report)
            assert report.msg_type == "8" and (got[150], got[39], got[31], got[32], got[14], got[151]) == (
                "F",
                "2",
                "99.4",
                "5000000",
                "5000000",
                "0",
            )
            assert got[54] == "1" and got[448] == "dealer-a" and got[452] == "17" and got[11] == "alice-1"
            report_a, cover = engine.take(da)
            got = fields(report_a)
            assert report_a.msg_type == "8" and got[54] == "2" and got[448] == "alice" and got[693] == "DA-R1"
            assert cover.msg_type == "AJ" and fields(cover)[694] == "4" and fields(cover)[44] == "99.6"
            assert fields(cover)[117] == "DA-Q1"
            (done_away,) = engine.take(db)
            assert done_away.msg_type == "AJ" and fields(done_away)[694] == "5"
            assert fields(done_away)[117] == "DB-Q1"
        finally:
            await gateway.stop()

    run(scenario)


@pytest.mark.parametrize(
    ("sender", "message", "expect"),
    [
        (
            "DA",
            FixMessage("R").add(131, "x").add(146, 1).add(55, "[N/A]").add(48, CUSIP).add(22, 1),
            ("AG", {658: "6"}),
        ),
        (
            "ALICE",
            FixMessage("R")
            .add(131, "x")
            .add(146, 1)
            .add(55, "[N/A]")
            .add(48, "000000000")
            .add(22, 1)
            .add(54, 1)
            .add(38, 1000)
            .add(126, "20990101-00:00:00"),
            ("AG", {658: "1"}),
        ),
        (
            "ALICE",
            FixMessage("R")
            .add(131, "x")
            .add(146, 1)
            .add(55, "[N/A]")
            .add(48, CUSIP)
            .add(22, 1)
            .add(54, 1)
            .add(38, 1000)
            .add(126, "20000101-00:00:00")
            .add(453, 1)
            .add(448, "dealer-a")
            .add(452, 35),
            ("AG", {658: "4"}),
        ),
        (
            "ALICE",
            FixMessage("R")
            .add(131, "x")
            .add(146, 1)
            .add(55, "[N/A]")
            .add(48, CUSIP)
            .add(22, 1)
            .add(54, 1)
            .add(38, 1000),
            ("AG", {658: "99"}),
        ),
        (
            "DA",
            FixMessage("S").add(131, "999").add(117, "q").add(55, "[N/A]").add(133, "99"),
            ("j", {380: "1"}),
        ),
        (
            "DA",
            FixMessage("S").add(131, "abc").add(117, "q").add(55, "[N/A]").add(133, "99"),
            ("j", {380: "1"}),
        ),
        ("DA", FixMessage("S").add(117, "q").add(55, "[N/A]").add(133, "99"), ("j", {380: "5"})),
        (
            "ALICE",
            FixMessage("S").add(131, "1").add(117, "q").add(55, "[N/A]").add(133, "99"),
            ("j", {380: "6"}),
        ),
        (
            "ALICE",
            FixMessage("AJ").add(693, "r").add(117, "424242").add(694, 1).add(55, "[N/A]"),
            ("j", {380: "1", 379: "r"}),
        ),
        ("DA", FixMessage("AJ").add(693, "r").add(117, "1").add(694, 5).add(55, "[N/A]"), ("j", {380: "0"})),
        ("DA", FixMessage("Z").add(131, "777").add(117, "q").add(298, 1), ("j", {380: "1"})),
        ("ALICE", FixMessage("Z").add(131, "nope").add(117, "q").add(298, 1), ("j", {380: "1"})),
        ("DA", FixMessage("AG").add(131, "777").add(658, 1).add(146, 1).add(55, "[N/A]"), ("j", {380: "0"})),
    ],
)
def test_refusals_follow_the_table(
    tmp_path: Path, sender: str, message: FixMessage, expect: tuple[str, dict[int, str]]
) -> None:
    async def scenario() -> None:
        engine = FakeEngine()
        gateway = await started(tmp_path, FakeCluster(), engine)
        try:
            session, _, _ = await engine.logon(sender, LOGINS[sender][1])
            engine.message(session, message)
            await settle(engine, {session: 1})
            (reply,) = engine.take(session)
            assert reply.msg_type == expect[0], str(reply)
            got = fields(reply)
            for tag, value in expect[1].items():
                assert got.get(tag) == value, str(reply)
            if reply.msg_type == "j":
                assert got[372] == message.msg_type and got[45] == "2"
        finally:
            await gateway.stop()

    run(scenario)


def test_a_logged_out_user_gets_what_it_missed_at_logon(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = FakeEngine()
        gateway = await started(tmp_path, FakeCluster(), engine)
        try:
            alice, _, _ = await engine.logon("ALICE", "pw-a")
            da, _, _ = await engine.logon("DA", "pw-da")
            engine.logout(da)
            await asyncio.sleep(0.05)
            engine.message(alice, quote_request("a-1", ["dealer-a"], now_ms() + 300_000))
            await settle(engine, {alice: 1})
            rfq_id = fields(engine.take(alice)[0])[117]
            assert engine.take(da) == []
            da, _, _ = await engine.logon("DA", "pw-da")  # not its first logon: the queue as it is
            await settle(engine, {da: 1})
            (request,) = engine.take(da)
            assert request.msg_type == "R" and fields(request)[131] == rfq_id and 97 not in fields(request)

            db, _, _ = await engine.logon("DB", "pw-db")  # first logon of this life: a snapshot
            assert engine.take(db) == []
            engine.message(alice, quote_request("a-2", ["dealer-b"], now_ms() + 300_000))
            await settle(engine, {db: 1})
            engine.take(db)
            gateway.barrier(None)  # the core may have missed events: online users get a snapshot now
            await settle(engine, {db: 1})
            (again,) = engine.take(db)
            assert again.msg_type == "R" and fields(again)[97] == "Y"
        finally:
            await gateway.stop()

    run(scenario)


def noop(*_: Any) -> None:
    return None
