"""The web gateway against a real single-node cluster, over real HTTP on 127.0.0.1.

A trader and three dealers negotiate over REST — create → three quotes → one dealer quotes again →
one passes → counter → the dealer accepts — while each user's SSE stream is read in its own thread and
checked event by event; a fourth dealer, not invited, sees nothing of it. Then authorisation: no or a
wrong token → 401, acting on an RFQ one is no party to → 403, only operators manage instruments.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rfq.cluster.node import EmbeddedNode, NodeConfig
from rfq.cluster.service import RfqService
from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.identity import Directory
from rfq.gateway.web.app import WebSettings
from rfq.gateway.web.server import WebGatewayServer, command_client_factory
from rfq.topology import Topology

pytestmark = pytest.mark.integration

CUSIP = "912828YK0"
CL_ORD_ID = "alice-secret-1"
USERS = [
    ("ops", "operator", 1),
    ("alice", "trader", 101),
    ("bob", "trader", 102),
    ("dealer-a", "dealer", 201),
    ("dealer-b", "dealer", 202),
    ("dealer-c", "dealer", 203),
    ("dealer-d", "dealer", 204),
]


class Stream:
    """One user's SSE stream, read into ``events`` by a thread until the server ends it."""

    def __init__(self, url: str, token: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, args=(url, token), daemon=True)
        self._thread.start()

    def _read(self, url: str, token: str) -> None:
        current: dict[str, Any] = {}
        try:
            with httpx.stream(
                "GET",
                f"{url}/v1/events?max_seconds=120",
                headers={"Authorization": f"Bearer {token}"},
                timeout=130,
            ) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if not line:
                        if "data" in current:
                            self.events.append({**current, "data": json.loads(current["data"])})
                        current = {}
                    elif not line.startswith(":"):
                        field, _, value = line.partition(": ")
                        current[field] = value
        except BaseException as error:
            self.error = error

    def wait_for(self, count: int, timeout_s: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.events) < count:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, [e["event"] for e in self.events]
            time.sleep(0.02)
        return self.events

    def types(self) -> list[str]:
        return [e["event"] for e in self.events]

    def join(self) -> None:
        self._thread.join(30)


@pytest.fixture
def gateway(
    jvm: None, topology: Topology, tmp_path: Path
) -> Iterator[tuple[WebGatewayServer, dict[str, str]]]:
    settings = WebSettings(data_dir=tmp_path / "gateway", gateway_id=2, outcome_timeout_s=10)
    directory = Directory(settings.directory_path)
    tokens = {}
    for name, role, user_id in USERS:
        directory.add_user(name, role, user_id=user_id)
        tokens[name] = directory.issue_token(user_id)
    directory.close()
    with EmbeddedNode(NodeConfig(topology=topology), RfqService()) as node:
        config = ClientConfig(ingress_endpoints=node.ingress_endpoints, aeron_dir=node.aeron_directory_name)
        server = WebGatewayServer(settings, command_client_factory(config), port=0)
        server.start(ready_timeout_s=60)
        try:
            yield server, tokens
        finally:
            server.stop()


def test_a_negotiation_over_rest_with_personalised_streams(
    gateway: tuple[WebGatewayServer, dict[str, str]],
) -> None:
    server, tokens = gateway
    http = httpx.Client(base_url=server.url, timeout=30)
    keys = iter(range(1_000_000))

    def post(user: str, path: str, body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {tokens[user]}", "Idempotency-Key": f"k{next(keys)}"}
        response = http.post(path, json=body, headers=headers)
        assert response.status_code == status, response.text
        answer: dict[str, Any] = response.json()
        return answer

    post("ops", "/v1/instruments", {"cusip": CUSIP, "min_quantity": 1_000, "description": "UST"}, 201)
    streams = {
        name: Stream(server.url, tokens[name])
        for name in ("alice", "dealer-a", "dealer-b", "dealer-c", "dealer-d")
    }
    for stream in streams.values():
        assert stream.wait_for(1)[0]["event"] == "snapshot"

    rfq = post(
        "alice",
        "/v1/rfqs",
        {"cusip": CUSIP, "side": "buy", "quantity": 5_000_000, "ttl_seconds": 300,
         "client_order_id": CL_ORD_ID, "dealers": ["dealer-a", "dealer-b", "dealer-c"]},
        201,
    )  # fmt: skip
    rfq_id = rfq["rfq_id"]
    assert rfq["client_order_id"] == CL_ORD_ID and rfq["status"] == "live"
    quote_a = post("dealer-a", f"/v1/rfqs/{rfq_id}/quotes", {"price": "99.50"}, 201)["quote"]
    post("dealer-b", f"/v1/rfqs/{rfq_id}/quotes", {"price": "99.60"}, 201)
    post("dealer-c", f"/v1/rfqs/{rfq_id}/quotes", {"price": "99.70"}, 201)
    again = post("dealer-b", f"/v1/rfqs/{rfq_id}/quotes", {"price": "99.45"}, 201)
    assert again["replaced_quote_id"] is not None
    post("dealer-c", f"/v1/rfqs/{rfq_id}/pass")
    counter = post(
        "alice", f"/v1/rfqs/{rfq_id}/quotes/{quote_a['quote_id']}/counter", {"price": "99.40"}, 201
    )
    trade = post("dealer-a", f"/v1/rfqs/{rfq_id}/counters/{counter['counter']['counter_id']}/accept")["trade"]
    assert (trade["price"], trade["cover_price"], trade["kind"]) == ("99.4", "99.45", "counter_accepted")
    assert (trade["buyer"]["name"], trade["seller"]["name"]) == ("alice", "dealer-a")

    expected = {
        "alice": ["snapshot", "rfq_created", "quote_submitted", "quote_submitted", "quote_submitted",
                  "quote_submitted", "dealer_passed", "quote_countered", "rfq_traded"],
        "dealer-a": ["snapshot", "rfq_invited", "quote_submitted", "quote_countered", "rfq_traded"],
        "dealer-b": ["snapshot", "rfq_invited", "quote_submitted", "quote_submitted", "rfq_ended"],
        "dealer-c": ["snapshot", "rfq_invited", "quote_submitted", "dealer_passed"],
        "dealer-d": ["snapshot"],
    }  # fmt: skip
    for name, types in expected.items():
        streams[name].wait_for(len(types))
    time.sleep(0.5)  # nothing more arrives
    assert {name: stream.types() for name, stream in streams.items()} == expected

    alice = [e["data"] for e in streams["alice"].events]
    assert alice[1]["rfq"]["client_order_id"] == CL_ORD_ID
    assert [(q["dealer"]["name"], q["quote"]["price"]) for q in alice[2:6]] == [
        ("dealer-a", "99.5"), ("dealer-b", "99.6"), ("dealer-c", "99.7"), ("dealer-b", "99.45"),
    ]  # fmt: skip
    assert alice[6]["dealer"]["name"] == "dealer-c"
    assert alice[7]["counter"]["price"] == "99.4" and alice[8]["trade"]["price"] == "99.4"
    dealer_a = [e["data"] for e in streams["dealer-a"].events]
    assert dealer_a[1]["rfq"]["dealer_count"] == 3 and dealer_a[1]["rfq"]["requester"]["name"] == "alice"
    assert dealer_a[3]["counter"]["price"] == "99.4" and dealer_a[4]["trade"]["cover_price"] == "99.45"
    assert streams["dealer-b"].events[-1]["data"]["reason"] == "done_away"
    assert streams["dealer-d"].events[0]["data"]["rfqs"] == []

    # privacy: no dealer hears another's price or name, or the requester's order id
    prices = {"dealer-a": "99.5", "dealer-b": "99.6", "dealer-c": "99.7"}
    for name in ("dealer-a", "dealer-b", "dealer-c", "dealer-d"):
        text = json.dumps([e["data"] for e in streams[name].events])
        assert CL_ORD_ID not in text
        for other, price in prices.items():
            if other != name:
                assert f'"{price}"' not in text and other not in text, (name, other)
        assert "correlation" not in text
    ids = [int(e["id"].split("-")[1]) for e in streams["alice"].events]
    assert ids == sorted(set(ids))

    # reads agree with the streams
    headers = {"Authorization": f"Bearer {tokens['dealer-b']}"}
    assert http.get(f"/v1/rfqs/{rfq_id}", headers=headers).json()["status"] == "done_away"
    assert (
        http.get(f"/v1/rfqs/{rfq_id}", headers={"Authorization": f"Bearer {tokens['dealer-d']}"}).status_code
        == 404
    )

    server.stop()  # ends the streams
    for stream in streams.values():
        stream.join()


def test_authentication_and_authorisation(gateway: tuple[WebGatewayServer, dict[str, str]]) -> None:
    server, tokens = gateway
    http = httpx.Client(base_url=server.url, timeout=30)

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    assert http.get("/v1/me").status_code == 401
    wrong = http.get("/v1/rfqs", headers={"Authorization": "Bearer rfq_not-a-token"})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
    assert http.get("/v1/events", headers={"Authorization": "Bearer x"}).status_code == 401
    for name, user_id in (("alice", 101), ("dealer-a", 201)):  # a token acts as its own user only
        assert http.get("/v1/me", headers=auth(name)).json()["user_id"] == user_id

    assert (
        http.post(
            "/v1/instruments", json={"cusip": CUSIP, "min_quantity": 1}, headers=auth("alice")
        ).status_code
        == 403
    )
    assert (
        http.post(
            "/v1/instruments", json={"cusip": CUSIP, "min_quantity": 1}, headers=auth("ops")
        ).status_code
        == 201
    )
    assert http.post("/v1/instruments/1/disable", headers=auth("dealer-a")).status_code == 403
    body = {"instrument_id": 1, "side": "sell", "quantity": 10, "ttl_seconds": 60, "dealers": ["dealer-a"]}
    assert http.post("/v1/rfqs", json=body, headers=auth("dealer-a")).status_code == 403
    created = http.post("/v1/rfqs", json=body, headers=auth("alice"))
    assert created.status_code == 201, created.text
    rfq_id = created.json()["rfq_id"]

    refused = http.post(f"/v1/rfqs/{rfq_id}/quotes", json={"price": "100"}, headers=auth("dealer-b"))
    assert refused.status_code == 403 and refused.json()["reason"] == "NOT_INVITED"
    refused = http.post(f"/v1/rfqs/{rfq_id}/cancel", headers=auth("bob"))
    assert refused.status_code == 403 and refused.json()["reason"] == "NOT_A_PARTY"
    assert http.get(f"/v1/rfqs/{rfq_id}", headers=auth("bob")).status_code == 404
    assert http.post(f"/v1/rfqs/{rfq_id}/cancel", headers=auth("alice")).json()["reason"] == "canceled"
    ended = http.post(f"/v1/rfqs/{rfq_id}/cancel", headers=auth("alice"))
    assert ended.status_code == 409 and ended.json()["reason"] == "RFQ_NOT_ACTIVE"
    disabled = http.post("/v1/instruments/1/disable", headers=auth("ops"))
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert http.get("/readyz").json()["ready"] is True
