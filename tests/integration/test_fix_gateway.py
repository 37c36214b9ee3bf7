"""The FIX gateway against a real single-node cluster, over real TCP on 127.0.0.1, with an independent
FIX engine as the counterparty: QuickFIX C++ (the ``quickfix-ssl`` wheel) for the trading flows and
the session layer, and a raw socket client for the malformed messages no engine would send.

One node, one web gateway and one FIX gateway serve the whole module (they share one directory);
each test uses its own users and CompIDs.

- A FIX requester and two FIX dealers, a third dealer over REST: create → quotes → counter → a new
  quote → hit → trade; each FIX side receives exactly the messages of docs/fix-mapping.md, field by
  field. Then a REST requester with FIX dealers: counter → the dealer accepts over FIX.
- Session layer: a gap in the counterparty's sequence numbers → the gateway's ResendRequest → gap
  fill → the message behind the gap is acted on once; unknown CompID and wrong password are refused;
  a gateway process killed with SIGKILL and restarted on its data dir keeps its sequence numbers
  (no reset, no resend needed) and the reconnected dealer gets what it missed.
- 1,000 malformed or mutated messages get their session Reject (3), BusinessMessageReject (j) or the
  flow's own reject, and the session stays logged on: the next valid message works.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rfq.cluster.node import EmbeddedNode, NodeConfig
from rfq.cluster.service import RfqService
from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.fix.fields import SOH, FixMessage, parse, utc_timestamp
from rfq.gateway.fix.gateway import FixSettings
from rfq.gateway.fix.server import FixGatewayServer
from rfq.gateway.identity import Directory
from rfq.gateway.transport import command_client_factory
from rfq.gateway.web.app import WebSettings
from rfq.gateway.web.server import WebGatewayServer
from rfq.topology import Topology, free_port_base

quickfix = pytest.importorskip("quickfix")

pytestmark = pytest.mark.integration

CUSIP = "912828YK0"
QTY = 5_000_000
DICTIONARY = Path(sysconfig.get_path("data")) / "share" / "quickfix" / "FIX44.xml"
USERS = [
    ("ops", "operator", 1),
    ("alice", "trader", 101),
    ("bob", "trader", 102),
    ("carol", "trader", 103),
    ("frank", "trader", 104),
    ("mia", "trader", 105),
    ("dealer-a", "dealer", 201),
    ("dealer-b", "dealer", 202),
    ("dealer-c", "dealer", 203),
    ("dealer-d", "dealer", 204),
    ("dealer-e", "dealer", 205),
]
LOGINS = {
    "ALICE": ("alice", "alice-pw"),
    "CAROL": ("carol", "carol-pw"),
    "CAROL2": ("carol", "carol2-pw"),
    "FUZZ": ("frank", "frank-pw"),
    "MIA": ("mia", "mia-pw"),
    "DA": ("dealer-a", "da-pw"),
    "DB": ("dealer-b", "db-pw"),
    "DD": ("dealer-d", "dd-pw"),
    "DE": ("dealer-e", "de-pw"),
}


# --- the platform ---------------------------------------------------------------------------------
@dataclass
class Platform:
    fix: FixGatewayServer
    web: WebGatewayServer
    tokens: dict[str, str]
    http: httpx.Client
    work: Path
    ingress: str

    def post(self, user: str, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        response = self.http.post(path, json=body, headers={"Authorization": f"Bearer {self.tokens[user]}"})
        assert response.status_code == status, response.text
        return response.json()

    def get(self, user: str, path: str) -> Any:
        return self.http.get(path, headers={"Authorization": f"Bearer {self.tokens[user]}"}).json()


@pytest.fixture(scope="module")
def platform(jvm: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    work = tmp_path_factory.mktemp("fix")
    data_dir = work / "gateway"
    directory = Directory(data_dir / "gateway.sqlite")
    tokens = {}
    for name, role, user_id in USERS:
        directory.add_user(name, role, user_id=user_id)
        tokens[name] = directory.issue_token(user_id)
    for sender, (name, password) in LOGINS.items():
        user = directory.user_by_name(name)
        assert user is not None
        directory.set_fix_login(sender, user.user_id, password)
    directory.close()
    with EmbeddedNode(NodeConfig(topology=Topology(port_base=free_port_base())), RfqService()) as node:
        config = ClientConfig(ingress_endpoints=node.ingress_endpoints, aeron_dir=node.aeron_directory_name)
        web = WebGatewayServer(
            WebSettings(data_dir=data_dir, gateway_id=2, outcome_timeout_s=10),
            command_client_factory(config),
            port=0,
        )
        web.start(ready_timeout_s=60)
        fix = FixGatewayServer(
            FixSettings(data_dir=data_dir, gateway_id=3, port=0),
            command_client_factory(config),
            metrics_port=0,
        )
        try:
            fix.start(ready_timeout_s=60)
            # idle connections dropped before uvicorn's 5 s keep-alive ends them: a request on one it
            # is closing meanwhile gets no answer (a CI run met it after a gateway's slow start)
            http = httpx.Client(base_url=web.url, timeout=30, limits=httpx.Limits(keepalive_expiry=2.0))
            platform = Platform(fix, web, tokens, http, work, node.ingress_endpoints)
            platform.post("ops", "/v1/instruments", {"cusip": CUSIP, "min_quantity": 1_000}, 201)
            yield platform
            http.close()
        finally:
            fix.stop()
            web.stop()
    shutil.rmtree(work, ignore_errors=True)


# --- an independent engine: QuickFIX C++ ----------------------------------------------------------
class Peer(quickfix.Application):  # type: ignore[misc,name-defined]
    """A counterparty on QuickFIX C++: logs on with a password, records what it receives."""

    def __init__(self, sender: str, password: str, port: int, work: Path) -> None:
        super().__init__()
        self.sender, self.password = sender, password
        self.app: list[FixMessage] = []
        self.admin: list[FixMessage] = []
        self.admin_sent: list[FixMessage] = []
        self.logged_on = threading.Event()
        self._lock = threading.Lock()
        folder = work / f"peer-{sender}-{time.monotonic_ns()}"
        folder.mkdir(parents=True)
        config = folder / "peer.cfg"
        config.write_text(
            "\n".join(
                [
                    "[DEFAULT]",
                    "ConnectionType=initiator",
                    "HeartBtInt=30",
                    "ReconnectInterval=1",
                    f"FileStorePath={folder / 'store'}",
                    "StartTime=00:00:00",
                    "EndTime=00:00:00",
                    "UseDataDictionary=Y",
                    f"DataDictionary={DICTIONARY}",
                    "ValidateUserDefinedFields=N",
                    "SocketConnectHost=127.0.0.1",
                    f"SocketConnectPort={port}",
                    "",
                    "[SESSION]",
                    "BeginString=FIX.4.4",
                    f"SenderCompID={sender}",
                    "TargetCompID=RFQGW",
                    "",
                ]
            )
        )
        self.session_id = quickfix.SessionID("FIX.4.4", sender, "RFQGW")
        self.dictionary = quickfix.DataDictionary(str(DICTIONARY))
        settings = quickfix.SessionSettings(str(config))
        self._initiator = quickfix.SocketInitiator(
            self,
            quickfix.FileStoreFactory(settings),
            settings,
            quickfix.ScreenLogFactory(False, False, False),
        )

    # QuickFIX C++ callbacks (its threads)
    def onCreate(self, session_id: Any) -> None:
        pass

    def onLogon(self, session_id: Any) -> None:
        self.logged_on.set()

    def onLogout(self, session_id: Any) -> None:
        self.logged_on.clear()

    def toAdmin(self, message: Any, session_id: Any) -> None:
        if message.getHeader().getField(35) == "A":
            message.setField(554, self.password)
        with self._lock:
            self.admin_sent.append(parse(message.toString()))

    def fromAdmin(self, message: Any, session_id: Any) -> None:
        with self._lock:
            self.admin.append(parse(message.toString()))

    def toApp(self, message: Any, session_id: Any) -> None:
        pass

    def fromApp(self, message: Any, session_id: Any) -> None:
        with self._lock:
            self.app.append(parse(message.toString()))

    # the test's side
    def start(self, logon: bool = True) -> Peer:
        self._initiator.start()
        if logon:
            assert self.logged_on.wait(15), f"{self.sender} did not log on: {[str(m) for m in self.admin]}"
        return self

    def stop(self) -> None:
        self._initiator.stop()

    def send(self, message: FixMessage) -> None:
        raw = frame(message.msg_type, message.fields)
        assert quickfix.Session.sendToTarget(quickfix.Message(raw, self.dictionary, False), self.session_id)

    def wait(self, count: int, timeout_s: float = 15.0) -> list[FixMessage]:
        deadline = time.monotonic() + timeout_s
        while len(self.app) < count:
            assert time.monotonic() < deadline, [str(m) for m in self.app]
            time.sleep(0.01)
        return self.app

    def take(self, count: int) -> list[FixMessage]:
        """Exactly ``count`` new application messages (and no more within a moment)."""
        self.wait(count)
        time.sleep(0.3)
        with self._lock:
            taken, self.app = self.app, []
        assert len(taken) == count, [str(m) for m in taken]
        return taken

    def session(self) -> Any:
        return quickfix.Session.lookupSession(self.session_id)


def frame(msg_type: str, fields: list[tuple[int, str]], header: str = "") -> str:
    """A whole message with a correct BodyLength and CheckSum."""
    body = f"35={msg_type}{SOH}{header}" + "".join(f"{tag}={value}{SOH}" for tag, value in fields)
    head = f"8=FIX.4.4{SOH}9={len(body.encode())}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return f"{head}{body}10={checksum:03d}{SOH}"


@pytest.fixture
def peers(platform: Platform) -> Iterator[Callable[..., Peer]]:
    started: list[Peer] = []

    def start(sender: str, password: str | None = None, logon: bool = True) -> Peer:
        peer = Peer(sender, password or LOGINS[sender][1], platform.fix.port, platform.work)
        started.append(peer)
        return peer.start(logon)

    yield start
    for peer in started:
        peer.stop()


def got(message: FixMessage) -> dict[int, str]:
    """Fields by tag (first occurrence), without the standard header."""
    header = {34, 43, 49, 52, 56, 97, 122}
    found: dict[int, str] = {}
    for tag, value in message.fields:
        if tag not in header:
            found.setdefault(tag, value)
    return found


def request_for_quote(quote_req_id: str, dealers: list[str], side: str = "1") -> FixMessage:
    message = FixMessage("R").add(131, quote_req_id).add(146, 1).add(55, "[N/A]").add(48, CUSIP).add(22, 1)
    message.add(54, side).add(38, QTY).add(126, utc_timestamp(int(time.time() * 1000) + 300_000))
    message.add(453, len(dealers))
    for name in dealers:
        message.add(448, name).add(447, "D").add(452, 35)
    return message


def instrument(side: str = "1") -> dict[int, str]:
    return {55: "[N/A]", 48: CUSIP, 22: "1", 54: side, 38: str(QTY)}


def subset(message: FixMessage, expected: dict[int, str], msg_type: str) -> None:
    fields = got(message)
    assert message.msg_type == msg_type, str(message)
    assert {tag: fields.get(tag) for tag in expected} == expected, str(message)


# --- must show 1: the flow, both roles --------------------------------------------------------------
def test_fix_requester_and_dealers_with_a_rest_dealer(platform: Platform, peers: Callable[..., Peer]) -> None:
    alice, da, db = peers("ALICE"), peers("DA"), peers("DB")
    alice.send(request_for_quote("alice-rfq-1", ["dealer-a", "dealer-b", "dealer-c"]))

    (ack,) = alice.take(1)
    rfq_id = got(ack)[117]
    subset(ack, {131: "alice-rfq-1", 297: "0", **instrument()}, "AI")
    assert set(got(ack)) == {131, 117, 297, 55, 48, 22, 54, 38, 126, 60}
    for dealer in (da, db):
        (request,) = dealer.take(1)
        subset(
            request,
            {131: rfq_id, 20001: "3", 146: "1", **instrument(), 453: "1", 448: "alice", 447: "D", 452: "13"},
            "R",
        )
        assert set(got(request)) == {131, 20001, 146, 55, 48, 22, 54, 38, 126, 60, 453, 448, 447, 452}
        assert "alice-rfq-1" not in str(request)

    # quotes: two over FIX, one over REST
    da.send(FixMessage("S").add(131, rfq_id).add(117, "DA-1").add(55, "[N/A]").add(133, "99.50"))
    db.send(FixMessage("S").add(131, rfq_id).add(117, "DB-1").add(55, "[N/A]").add(133, "99.60"))
    (ack_a,) = da.take(1)
    (ack_b,) = db.take(1)
    subset(ack_a, {131: rfq_id, 117: "DA-1", 537: "1", 297: "0", 133: "99.5", **instrument()}, "AI")
    subset(ack_b, {131: rfq_id, 117: "DB-1", 537: "1", 297: "0", 133: "99.6"}, "AI")
    assert set(got(ack_a)) == {131, 117, 537, 297, 55, 48, 22, 54, 38, 133, 62, 60}
    platform.post("dealer-c", f"/v1/rfqs/{rfq_id}/quotes", {"price": "99.70"}, 201)
    quotes = {got(m)[448]: m for m in alice.take(3)}
    assert sorted(quotes) == ["dealer-a", "dealer-b", "dealer-c"]
    for name, price in (("dealer-a", "99.5"), ("dealer-b", "99.6"), ("dealer-c", "99.7")):
        subset(quotes[name], {131: "alice-rfq-1", 537: "1", 133: price, 452: "35", **instrument()}, "S")
        assert set(got(quotes[name])) == {131, 117, 537, 55, 48, 22, 54, 38, 133, 62, 60, 453, 448, 447, 452}
    quote_a = got(quotes["dealer-a"])[117]
    assert quote_a not in ("DA-1", "DB-1")  # the platform's quote ids, not the dealers' own

    # counter to dealer-a only
    alice.send(
        FixMessage("AJ").add(693, "alice-c-1").add(117, quote_a).add(694, 2).add(55, "[N/A]").add(44, "99.40")
    )
    (counter_ack,) = alice.take(1)
    subset(
        counter_ack,
        {131: "alice-rfq-1", 693: "alice-c-1", 537: "3", 297: "0", 44: "99.4", 448: "dealer-a"},
        "AI",
    )
    counter_id = got(counter_ack)[117]
    (counter,) = da.take(1)
    subset(counter, {131: rfq_id, 117: counter_id, 537: "3", 133: "99.4", **instrument()}, "S")
    assert set(got(counter)) == {131, 117, 537, 55, 48, 22, 54, 38, 133, 60}

    # dealer-a answers the counter with a new quote; alice hits it
    da.send(
        FixMessage("S")
        .add(131, rfq_id)
        .add(117, "DA-2")
        .add(693, counter_id)
        .add(55, "[N/A]")
        .add(133, "99.45")
    )
    (ack_a2,) = da.take(1)
    subset(ack_a2, {131: rfq_id, 117: "DA-2", 297: "0", 133: "99.45"}, "AI")
    (requote,) = alice.take(1)
    subset(requote, {131: "alice-rfq-1", 133: "99.45", 448: "dealer-a"}, "S")
    alice.send(
        FixMessage("AJ").add(693, "alice-hit-1").add(117, got(requote)[117]).add(694, 1).add(55, "[N/A]")
    )

    (report,) = alice.take(1)
    subset(
        report,
        {
            37: rfq_id,
            11: "alice-rfq-1",
            693: "alice-hit-1",
            150: "F",
            39: "2",
            54: "1",
            38: str(QTY),
            32: str(QTY),
            31: "99.45",
            14: str(QTY),
            151: "0",
            6: "99.45",
            453: "1",
            448: "dealer-a",
            452: "17",
            55: "[N/A]",
            48: CUSIP,
            22: "1",
        },
        "8",
    )
    trade_id = got(report)[17]
    report_a, cover = da.take(2)
    subset(
        report_a,
        {37: rfq_id, 17: trade_id, 150: "F", 39: "2", 54: "2", 31: "99.45", 448: "alice", 452: "17"},
        "8",
    )
    assert 11 not in got(report_a) and 693 not in got(report_a)
    subset(cover, {694: "4", 117: "DA-2", 44: "99.6", **instrument()}, "AJ")
    (done_away,) = db.take(1)
    subset(done_away, {694: "5", 117: "DB-1", **instrument()}, "AJ")
    assert platform.get("dealer-c", f"/v1/rfqs/{rfq_id}")["status"] == "done_away"
    # privacy: no dealer saw another's price or name, nor the requester's ids
    for dealer in (da, db):
        assert dealer.app == []  # nothing more than the table says
    assert "99.6" not in str(done_away) and "alice-rfq-1" not in str(report_a)


def test_rest_requester_with_fix_dealers(platform: Platform, peers: Callable[..., Peer]) -> None:
    dd, de = peers("DD"), peers("DE")
    rfq = platform.post(
        "bob",
        "/v1/rfqs",
        {
            "cusip": CUSIP,
            "side": "sell",
            "quantity": QTY,
            "ttl_seconds": 300,
            "client_order_id": "bob-secret",
            "dealers": ["dealer-d", "dealer-e"],
        },
        201,
    )
    rfq_id = str(rfq["rfq_id"])
    for dealer in (dd, de):
        (request,) = dealer.take(1)
        subset(request, {131: rfq_id, 20001: "2", **instrument("2"), 448: "bob", 452: "13"}, "R")
        assert "bob-secret" not in str(request)
    dd.send(FixMessage("S").add(131, rfq_id).add(117, "DD-1").add(55, "[N/A]").add(132, "98.10"))
    de.send(FixMessage("S").add(131, rfq_id).add(117, "DE-1").add(55, "[N/A]").add(132, "98.20"))
    (ack_d,) = dd.take(1)
    subset(ack_d, {131: rfq_id, 117: "DD-1", 297: "0", 132: "98.1", 54: "2"}, "AI")
    de.take(1)  # its acknowledgment
    quote_e = platform.get("bob", f"/v1/rfqs/{rfq_id}")["dealers"][1]["quote"]["quote_id"]
    counter = platform.post("bob", f"/v1/rfqs/{rfq_id}/quotes/{quote_e}/counter", {"price": "98.30"}, 201)
    counter_id = str(counter["counter"]["counter_id"])
    (to_e,) = de.take(1)
    subset(to_e, {131: rfq_id, 117: counter_id, 537: "3", 132: "98.3", 54: "2"}, "S")
    assert dd.app == []
    de.send(FixMessage("AJ").add(693, "DE-accept").add(117, counter_id).add(694, 1).add(55, "[N/A]"))
    report, cover = de.take(2)
    subset(report, {37: rfq_id, 693: "DE-accept", 150: "F", 39: "2", 54: "1", 31: "98.3", 448: "bob"}, "8")
    subset(cover, {694: "4", 117: "DE-1", 44: "98.1"}, "AJ")
    (done_away,) = dd.take(1)
    subset(done_away, {694: "5", 117: "DD-1"}, "AJ")
    view = platform.get("bob", f"/v1/rfqs/{rfq_id}")
    assert view["status"] == "traded" and view["trade"]["price"] == "98.3"


# --- must show 2: the session layer ---------------------------------------------------------------
def fix_metrics(platform: Platform) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The FIX gateway's /metrics, parsed by prometheus-client's parser: (name, labels) → value."""
    text = httpx.get(f"{platform.fix.metrics_url}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def await_fix_sessions(platform: Platform, count: float) -> None:
    deadline = time.monotonic() + 15
    while (sessions := fix_metrics(platform)[("rfq_gateway_fix_sessions", ())]) != count:
        assert time.monotonic() < deadline, f"{sessions} FIX sessions, not {count}"
        time.sleep(0.05)


def test_metrics_count_sessions_and_commands(platform: Platform, peers: Callable[..., Peer]) -> None:
    before = fix_metrics(platform)
    sessions = before[("rfq_gateway_fix_sessions", ())]
    created = ("rfq_gateway_commands_total", (("command", "CreateRfq"),))
    # a sender no other test uses: with ALICE, which an earlier test had started and stopped, QuickFIX
    # C++'s sendToTarget aborted the whole test process (seen in CI; every test has its own senders)
    mia = peers("MIA")
    await_fix_sessions(platform, sessions + 1)
    mia.send(request_for_quote("metrics-1", ["dealer-d"]))
    (status,) = mia.take(1)
    assert status.msg_type == "AI", str(status)
    after = fix_metrics(platform)
    assert after[created] - before.get(created, 0.0) == 1
    assert after[("rfq_gateway_ready", ())] == 1.0
    mia.stop()
    await_fix_sessions(platform, sessions)


def test_a_sequence_gap_is_recovered_by_resend(platform: Platform, peers: Callable[..., Peer]) -> None:
    carol = peers("CAROL")
    session = carol.session()
    expected = session.getExpectedSenderNum()
    session.setNextSenderMsgSeqNum(expected + 5)  # messages expected..expected+4 never sent
    carol.send(request_for_quote("carol-gap", ["dealer-a"]))
    (ack,) = carol.take(1)
    subset(ack, {131: "carol-gap", 297: "0"}, "AI")
    resends = [m for m in carol.admin if m.msg_type == "2"]
    assert len(resends) == 1 and got(resends[0])[7] == str(expected), [str(m) for m in carol.admin]
    fills = [m for m in carol.admin_sent if m.msg_type == "4" and got(m).get(123) == "Y"]
    assert fills and got(fills[0])[36] == str(expected + 5), [str(m) for m in carol.admin_sent]
    assert carol.logged_on.is_set()
    carol.send(FixMessage("Z").add(131, "carol-gap").add(117, got(ack)[117]).add(298, 1))
    (canceled,) = carol.take(1)
    subset(canceled, {131: "carol-gap", 297: "6"}, "AI")


@pytest.mark.parametrize(("sender", "password"), [("NOBODY", "x"), ("CAROL2", "wrong-password")])
def test_unknown_comp_id_or_wrong_password_is_refused(
    platform: Platform, peers: Callable[..., Peer], sender: str, password: str
) -> None:
    refused = platform.fix.gateway.refused_logons
    peer = peers(sender, password, logon=False)
    deadline = time.monotonic() + 15
    while not any(m.msg_type == "5" for m in peer.admin):
        assert time.monotonic() < deadline, [str(m) for m in peer.admin]
        time.sleep(0.02)
    peer.stop()
    logout = next(m for m in peer.admin if m.msg_type == "5")
    assert got(logout)[58] == "unknown SenderCompID or wrong password"
    assert not peer.logged_on.is_set() and peer.app == []
    assert platform.fix.gateway.refused_logons > refused


# --- must show 3: malformed and mutated messages --------------------------------------------------
class Wire:
    """A FIX client on a raw socket: it can send what no engine would (a bad CheckSum...)."""

    _FRAME = re.compile(rb"8=FIX\.4\.4\x019=(\d+)\x01")

    def __init__(self, port: int, sender: str, password: str) -> None:
        self.sender = sender
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.seq = 1
        self.logouts = 0
        self.send("A", [(98, "0"), (108, "30"), (554, password)])
        logon = self.read(10)
        assert logon is not None and logon.msg_type == "A", logon

    def close(self) -> None:
        self.sock.close()

    def frame(self, msg_type: str, fields: list[tuple[int, str]]) -> str:
        now = utc_timestamp(int(time.time() * 1000))
        header = f"49={self.sender}{SOH}56=RFQGW{SOH}34={self.seq}{SOH}52={now}{SOH}"
        return frame(msg_type, fields, header)

    def send(self, msg_type: str, fields: list[tuple[int, str]], garble: bool = False) -> int:
        """Send; return the MsgSeqNum used. A garbled message (bad CheckSum) does not use one up: the
        engine ignores it, as FIX says."""
        text = self.frame(msg_type, fields)
        if garble:
            checksum = int(text[-4:-1])
            text = f"{text[:-4]}{(checksum + 1) % 256:03d}{SOH}"
        self.sock.sendall(text.encode())
        used = self.seq
        if not garble:
            self.seq += 1
        return used

    def read(self, timeout_s: float) -> FixMessage | None:
        """The next message (answering test requests, skipping heartbeats); None on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            match = self._FRAME.search(self.buffer)
            if match is not None:
                end = match.end() + int(match.group(1)) + 7
                if len(self.buffer) >= end:
                    raw, self.buffer = self.buffer[match.start() : end], self.buffer[end:]
                    message = parse(raw.decode())
                    if message.msg_type == "1":
                        self.send("0", [(112, got(message)[112])])
                        continue
                    if message.msg_type == "0":
                        continue
                    if message.msg_type == "5":
                        self.logouts += 1
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError("the gateway closed the connection")
            self.buffer += chunk


def _rfq(
    quote_req_id: str, extra: list[tuple[int, str]] | None = None, **replace: str
) -> list[tuple[int, str]]:
    fields = [
        (131, quote_req_id),
        (146, "1"),
        (55, "[N/A]"),
        (48, CUSIP),
        (22, "1"),
        (54, "1"),
        (38, "1000000"),
        (126, utc_timestamp(int(time.time() * 1000) + 300_000)),
    ]
    fields = [(tag, replace.get(f"t{tag}", value)) for tag, value in fields if replace.get(f"t{tag}") != "-"]
    return fields + (extra or [])


Expect = dict[int, str]


def _mutations(
    rng: random.Random, other_quote: str
) -> list[tuple[str, str, list[tuple[int, str]], bool, str, Expect]]:
    """(kind, MsgType, fields, garbled, expected MsgType ("" = ignored), expected fields)."""
    n = rng.randrange(10**9)
    return [
        ("bad checksum", "R", _rfq(f"g{n}"), True, "", {}),
        ("missing QuoteReqID", "R", _rfq("x", t131="-"), False, "3", {373: "1", 371: "131"}),
        (
            "missing QuoteID",
            "S",
            [(131, "1"), (55, "[N/A]"), (133, "99")],
            False,
            "3",
            {373: "1", 371: "117"},
        ),
        ("missing QuoteRespType", "AJ", [(693, f"r{n}"), (55, "[N/A]")], False, "3", {373: "1", 371: "694"}),
        ("quantity not a number", "R", _rfq(f"q{n}", t38="abc"), False, "3", {373: "6", 371: "38"}),
        ("time not a time", "R", _rfq(f"t{n}", t126="tomorrow"), False, "3", {373: "6", 371: "126"}),
        (
            "price not a number",
            "S",
            [(131, "1"), (117, "q"), (55, "[N/A]"), (133, f"{n}x")],
            False,
            "3",
            {373: "6", 371: "133"},
        ),
        ("side out of range", "R", _rfq(f"s{n}", t54="Z"), False, "3", {373: "5", 371: "54"}),
        (
            "QuoteRespType out of range",
            "AJ",
            [(693, f"r{n}"), (694, "9"), (55, "[N/A]")],
            False,
            "3",
            {373: "5", 371: "694"},
        ),
        ("unknown MsgType", "ZZ", [(58, f"z{n}")], False, "3", {373: "11"}),
        (
            "unsupported MsgType",
            "D",
            [(11, f"o{n}"), (55, "[N/A]"), (54, "1"), (60, utc_timestamp(0)), (38, "100"), (40, "1")],
            False,
            "j",
            {380: "3", 372: "D"},
        ),
        ("undefined tag", "R", _rfq(f"u{n}", [(4999, "x")]), False, "3", {373: "2", 371: "4999"}),
        ("user-defined tag", "R", _rfq(f"v{n}", [(9999, "x")]), False, "3", {373: "2", 371: "9999"}),
        (
            "tag not for this MsgType",
            "S",
            [(131, "1"), (117, "q"), (55, "[N/A]"), (11, "x")],
            False,
            "3",
            {373: "2", 371: "11"},
        ),
        ("empty value", "R", _rfq(f"e{n}", [(58, "")]), False, "3", {373: "4", 371: "58"}),
        ("repeated tag", "R", [(131, f"d{n}"), *_rfq(f"d{n}")], False, "3", {373: "13", 371: "131"}),
        ("wrong group count", "R", _rfq(f"c{n}", t146="2"), False, "3", {373: "16", 371: "146"}),
        (
            "unknown RFQ (cancel)",
            "Z",
            [(131, f"nope{n}"), (117, "q"), (298, "1")],
            False,
            "j",
            {380: "1", 372: "Z"},
        ),
        (
            "unknown QuoteID (hit)",
            "AJ",
            [(693, f"h{n}"), (117, str(10**12 + n)), (694, "1"), (55, "[N/A]")],
            False,
            "j",
            {380: "1", 379: f"h{n}"},
        ),
        (
            "another user's quote",
            "AJ",
            [(693, f"o{n}"), (117, other_quote), (694, "1"), (55, "[N/A]")],
            False,
            "j",
            {380: "6", 379: f"o{n}"},
        ),
        ("unknown CUSIP", "R", _rfq(f"k{n}", t48="037833100"), False, "AG", {658: "1", 131: f"k{n}"}),
        (
            "a trader quotes",
            "S",
            [(131, "1"), (117, f"q{n}"), (55, "[N/A]"), (133, "99")],
            False,
            "j",
            {380: "6"},
        ),
        ("QuoteReqID too long", "R", _rfq(f"long-{n:020d}"), False, "AG", {658: "99"}),
    ]


def test_a_thousand_malformed_messages_get_rejects_and_the_session_stays_up(platform: Platform) -> None:
    rfq = platform.post(
        "alice",
        "/v1/rfqs",
        {"cusip": CUSIP, "side": "buy", "quantity": QTY, "ttl_seconds": 300, "dealers": ["dealer-c"]},
        201,
    )
    other_quote = platform.post("dealer-c", f"/v1/rfqs/{rfq['rfq_id']}/quotes", {"price": "99"}, 201)
    other_quote_id = str(other_quote["quote"]["quote_id"])
    wire = Wire(platform.fix.port, "FUZZ", LOGINS["FUZZ"][1])
    rng = random.Random(10)
    counts: dict[str, int] = {}
    try:
        for i in range(1_000):
            cases = _mutations(rng, other_quote_id)
            kind, msg_type, fields, garble, expect_type, expect = cases[i % len(cases)]
            seq = wire.send(msg_type, fields, garble)
            if not expect_type:
                continue  # ignored: the next message, on the same MsgSeqNum, shows the session is fine
            reply = wire.read(10)
            assert reply is not None, f"#{i} {kind}: no answer"
            assert reply.msg_type == expect_type, f"#{i} {kind}: {reply}"
            fields_got = got(reply)
            assert {tag: fields_got.get(tag) for tag in expect} == expect, f"#{i} {kind}: {reply}"
            if expect_type in ("3", "j"):
                assert fields_got[45] == str(seq), f"#{i} {kind}: {reply}"
            counts[kind] = counts.get(kind, 0) + 1
        assert wire.logouts == 0
        wire.send("R", _rfq("fuzz-after", [(453, "1"), (448, "dealer-c"), (447, "D"), (452, "35")]))
        ack = wire.read(10)
        assert ack is not None and ack.msg_type == "AI" and got(ack)[297] == "0", ack
        assert got(ack)[131] == "fuzz-after"
    finally:
        wire.close()
    assert sum(counts.values()) == 1_000 - 44 and len(counts) == 22, counts


# --- must show 2: a gateway killed and restarted keeps its sequence numbers -----------------------
class GatewayProcess:
    """``rfq gateway fix`` in a process of its own, against the module's node (UDP ingress)."""

    def __init__(self, ingress: str, data_dir: Path, port: int) -> None:
        self.args = [
            sys.executable,
            "-m",
            "rfq",
            "gateway",
            "fix",
            f"--cluster={ingress}",
            f"--data-dir={data_dir}",
            f"--port={port}",
            "--gateway-id=4",
        ]
        self.process: subprocess.Popen[str] | None = None
        self.pids: list[int] = []

    def start(self) -> None:
        env = {**os.environ, "RFQ_JVM_OPTS": "-Xms128m -Xmx128m"}
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.pids.append(self.process.pid)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("rfq: FIX gateway 4 on"):
                break
        else:
            raise AssertionError(f"the FIX gateway process did not start: exit {self.process.wait()}")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # keep the pipe drained

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for pid in self.pids:  # a killed client leaves its media driver's folder behind
            for leftover in Path("/dev/shm").glob(f"rfq-client-{pid}-*"):
                shutil.rmtree(leftover, ignore_errors=True)


def test_a_gateway_killed_and_restarted_keeps_sequence_numbers(platform: Platform) -> None:
    data_dir = platform.work / "killed-gateway"
    directory = Directory(data_dir / "gateway.sqlite")
    directory.add_user("dealer-e", "dealer", user_id=205)
    directory.set_fix_login("DEK", 205, "dek-pw")
    directory.close()
    port = free_tcp_port()
    gateway = GatewayProcess(platform.ingress, data_dir, port)
    dealer = None
    try:
        gateway.start()
        dealer = Peer("DEK", "dek-pw", port, platform.work).start()
        first = platform.post(
            "bob",
            "/v1/rfqs",
            {"cusip": CUSIP, "side": "buy", "quantity": QTY, "ttl_seconds": 300, "dealers": ["dealer-e"]},
            201,
        )
        (request,) = dealer.take(1)
        subset(request, {131: str(first["rfq_id"])}, "R")
        expected = dealer.session().getExpectedTargetNum()
        sent = dealer.session().getExpectedSenderNum()

        gateway.kill()
        deadline = time.monotonic() + 15
        while dealer.logged_on.is_set():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        missed = platform.post(
            "bob",
            "/v1/rfqs",
            {"cusip": CUSIP, "side": "buy", "quantity": QTY, "ttl_seconds": 300, "dealers": ["dealer-e"]},
            201,
        )
        admin_before = len(dealer.admin)
        gateway.start()
        assert dealer.logged_on.wait(30), [str(m) for m in dealer.admin]
        logon = next(m for m in dealer.admin[admin_before:] if m.msg_type == "A")
        assert got(logon).get(141) is None and logon.get(34) == str(expected)  # no reset: numbers kept
        assert not any(m.msg_type in ("2", "4") for m in dealer.admin[admin_before:])  # nothing to recover
        assert dealer.session().getExpectedSenderNum() >= sent
        snapshot = dealer.take(2)  # the first logon of the gateway's new life: a snapshot of live RFQs
        assert [(m.msg_type, got(m)[131], m.get(97)) for m in snapshot] == [
            ("R", str(first["rfq_id"]), "Y"),
            ("R", str(missed["rfq_id"]), "Y"),
        ]
        dealer.send(
            FixMessage("S").add(131, str(missed["rfq_id"])).add(117, "DEK-1").add(55, "[N/A]").add(133, "99")
        )
        (ack,) = dealer.take(1)
        subset(ack, {131: str(missed["rfq_id"]), 117: "DEK-1", 297: "0"}, "AI")
    finally:
        if dealer is not None:
            dealer.stop()
        gateway.stop()


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
