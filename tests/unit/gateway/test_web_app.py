"""The web app over a fake cluster: auth, problem+json, idempotency, 503 and retry, SSE resume, OpenAPI."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from rfq.gateway.testing import FakeCluster

CUSIP = "912828YK0"
PROBLEM = "application/problem+json"
OpenWeb = Callable[[FakeCluster], contextlib.AbstractContextManager[TestClient]]


def new_rfq(**overrides: Any) -> dict[str, Any]:
    return {
        "cusip": CUSIP,
        "side": "buy",
        "quantity": 5_000,
        "ttl_seconds": 60,
        "client_order_id": "a-1",
        **overrides,
    }


def sse(client: TestClient, headers: dict[str, str], seconds: float = 0.3) -> list[dict[str, Any]]:
    """The events of one stream that ends after ``seconds``: [{id, event, data}]."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    with client.stream("GET", f"/v1/events?max_seconds={seconds}", headers=headers) as stream:
        assert stream.status_code == 200
        for line in stream.iter_lines():
            if not line:
                if "data" in current:
                    current["data"] = json.loads(current["data"])
                    events.append(current)
                current = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                current[field] = value
    return events


def assert_problem(response: Any, status: int, type_: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("/problems/")
    if type_ is not None:
        assert body["type"] == f"/problems/{type_}"
    return body


def test_tokens_authenticate_and_roles_authorise(web: TestClient, cast: Any) -> None:
    assert_problem(web.get("/v1/me"), 401, "unauthorized")
    bad = web.get("/v1/me", headers={"Authorization": "Bearer rfq_nope"})
    assert_problem(bad, 401)
    assert "invalid_token" in bad.headers["www-authenticate"]
    assert_problem(web.get("/v1/me", headers={"Authorization": "Basic abc"}), 401)
    assert web.get("/v1/me", headers=cast.auth("alice")).json() == {
        "user_id": 101,
        "name": "alice",
        "role": "trader",
    }
    assert_problem(web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("dealer-a")), 403, "forbidden-role")
    assert_problem(
        web.post(
            "/v1/instruments", json={"cusip": "037833DX5", "min_quantity": 1}, headers=cast.auth("alice")
        ),
        403,
        "forbidden-role",
    )
    assert_problem(web.post("/v1/instruments/1/disable", headers=cast.auth("dealer-a")), 403)


def test_acting_on_an_rfq_one_is_no_party_to_is_forbidden_and_reading_it_is_not_found(
    web: TestClient, cast: Any
) -> None:
    rfq = web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice")).json()["rfq_id"]
    body = assert_problem(
        web.post(f"/v1/rfqs/{rfq}/quotes", json={"price": "99"}, headers=cast.auth("dealer-d")), 403
    )
    assert body["reason"] == "NOT_INVITED"
    assert_problem(web.post(f"/v1/rfqs/{rfq}/cancel", headers=cast.auth("bob")), 403, "not-a-party")
    assert_problem(web.get(f"/v1/rfqs/{rfq}", headers=cast.auth("bob")), 404)
    assert_problem(web.get(f"/v1/rfqs/{rfq}", headers=cast.auth("dealer-d")), 404)
    assert web.get(f"/v1/rfqs/{rfq}", headers=cast.auth("dealer-a")).json()["role"] == "dealer"
    assert web.get("/v1/rfqs", headers=cast.auth("bob")).json() == []
    assert_problem(web.post("/v1/rfqs/999/cancel", headers=cast.auth("alice")), 404, "unknown-rfq")


def test_every_error_is_problem_json(web: TestClient, cast: Any) -> None:
    assert_problem(web.get("/nowhere"), 404, "not-found")
    assert_problem(web.delete("/v1/rfqs"), 405, "method-not-allowed")
    alice = cast.auth("alice")
    body = assert_problem(
        web.post("/v1/rfqs", json=new_rfq(quantity=5.0), headers=alice), 422, "validation-error"
    )
    assert body["errors"][0]["loc"] == ["body", "quantity"]
    assert_problem(web.post("/v1/rfqs", json=new_rfq(quantity="5"), headers=alice), 422)
    assert_problem(web.post("/v1/rfqs", json=new_rfq(cusip="XXX"), headers=alice), 422)
    assert_problem(web.post("/v1/rfqs", json=new_rfq(cusip="037833DX5"), headers=alice), 422)  # unknown CUSIP
    assert_problem(web.post("/v1/rfqs", json=new_rfq(dealers=["alice"]), headers=alice), 422)
    assert_problem(web.post("/v1/rfqs", json=new_rfq(ttl_seconds=None), headers=alice), 422)
    assert_problem(web.post("/v1/rfqs", json=new_rfq(surprise=1), headers=alice), 422)
    assert_problem(
        web.post("/v1/rfqs", content=b"{", headers={**alice, "content-type": "application/json"}), 422
    )
    rfq = web.post("/v1/rfqs", json=new_rfq(), headers=alice).json()["rfq_id"]
    dealer = cast.auth("dealer-a")
    assert_problem(web.post(f"/v1/rfqs/{rfq}/quotes", json={"price": 99.5}, headers=dealer), 422)
    assert_problem(web.post(f"/v1/rfqs/{rfq}/quotes", json={"price": "99.123456789"}, headers=dealer), 422)
    body = assert_problem(web.post(f"/v1/rfqs/{rfq}/quotes", json={"price": "0"}, headers=dealer), 422)
    assert body["reason"] == "INVALID_PRICE"
    quoted = web.post(f"/v1/rfqs/{rfq}/quotes", json={"price": "99.515625"}, headers=dealer)
    assert quoted.status_code == 201 and quoted.json()["quote"]["price"] == "99.515625"
    assert_problem(web.post(f"/v1/rfqs/{rfq}/quotes/0/accept", headers=alice), 422)
    assert_problem(web.post(f"/v1/rfqs/{rfq}/quotes/999/accept", headers=alice), 404, "unknown-quote")
    web.post(f"/v1/rfqs/{rfq}/cancel", headers=alice).raise_for_status()
    body = assert_problem(web.post(f"/v1/rfqs/{rfq}/cancel", headers=alice), 409, "rfq-not-active")


def test_the_default_dealers_are_asked_when_none_are_named(web: TestClient, cast: Any) -> None:
    created = web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice"))
    assert (
        created.status_code == 201 and created.headers["location"] == f"/v1/rfqs/{created.json()['rfq_id']}"
    )
    assert [d["dealer"]["name"] for d in created.json()["dealers"]] == ["dealer-a", "dealer-b", "dealer-c"]
    named = web.post(
        "/v1/rfqs",
        json=new_rfq(dealers=["dealer-d"], instrument_id=1, cusip=None),
        headers=cast.auth("alice"),
    )
    assert [d["dealer"]["name"] for d in named.json()["dealers"]] == ["dealer-d"]


def test_an_idempotency_key_gives_one_request_one_answer(
    web: TestClient, cast: Any, cluster: FakeCluster
) -> None:
    first = web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "key-1"))
    again = web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "key-1"))
    assert first.status_code == again.status_code == 201
    assert first.content == again.content and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert_problem(
        web.post("/v1/rfqs", json=new_rfq(quantity=6_000), headers=cast.auth("alice", "key-1")),
        422,
        "idempotency-key-reused",
    )
    assert_problem(web.post("/v1/rfqs/1/cancel", headers=cast.auth("alice", "key-1")), 422)
    bobs = web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("bob", "key-1"))  # keys are per user
    assert bobs.status_code == 201 and bobs.json()["rfq_id"] != first.json()["rfq_id"]
    refused = web.post("/v1/rfqs/99/cancel", headers=cast.auth("alice", "key-2"))
    replay = web.post("/v1/rfqs/99/cancel", headers=cast.auth("alice", "key-2"))
    assert refused.status_code == replay.status_code == 404 and refused.content == replay.content
    assert len(web.get("/v1/rfqs", headers=cast.auth("alice")).json()) == 1


def test_a_slow_cluster_gets_503_and_the_retry_gets_the_one_outcome(
    web: TestClient, cast: Any, cluster: FakeCluster
) -> None:
    cluster.hold()
    slow = web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "k"))
    assert_problem(slow, 503, "cluster-unavailable")
    assert slow.headers["retry-after"] == "1"
    blocked: list[Any] = []
    first = threading.Thread(
        target=lambda: blocked.append(web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "k")))
    )
    first.start()
    time.sleep(0.15)
    assert_problem(
        web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "k")), 409, "request-in-progress"
    )
    first.join()
    cluster.release()
    deadline = time.monotonic() + 5
    while (retry := web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "k"))).status_code == 503:
        assert time.monotonic() < deadline
    assert retry.status_code == 201
    assert web.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "k")).content == retry.content
    assert len(web.get("/v1/rfqs", headers=cast.auth("alice")).json()) == 1  # created once


def test_a_retry_after_a_gateway_restart_gets_the_outcome_of_the_stored_command(
    open_web: OpenWeb, cast: Any, cluster: FakeCluster
) -> None:
    with open_web(cluster) as first:
        first.post(
            "/v1/instruments", json={"cusip": CUSIP, "min_quantity": 1}, headers=cast.auth("ops")
        ).raise_for_status()
        cluster.hold()
        assert_problem(first.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "k")), 503)
    cluster.release()  # the first life's session died with its held command
    with open_web(cluster) as second:
        retry = second.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "k"))
        assert retry.status_code == 201, retry.text
        assert (
            second.post("/v1/rfqs", json=new_rfq(), headers=cast.auth("alice", "k")).content == retry.content
        )
        assert len(second.get("/v1/rfqs", headers=cast.auth("alice")).json()) == 1


def test_streams_open_with_a_snapshot_and_resume_from_the_last_event_id(web: TestClient, cast: Any) -> None:
    alice = cast.auth("alice")
    opening = sse(web, alice)
    assert [e["event"] for e in opening] == ["snapshot"]
    assert opening[0]["data"]["reason"] == "new_stream" and opening[0]["data"]["rfqs"] == []
    assert opening[0]["data"]["instruments"][0]["cusip"] == CUSIP
    rfq = web.post("/v1/rfqs", json=new_rfq(), headers=alice).json()["rfq_id"]
    web.post(
        f"/v1/rfqs/{rfq}/quotes", json={"price": "99.5"}, headers=cast.auth("dealer-a")
    ).raise_for_status()
    missed = sse(web, {**alice, "Last-Event-ID": opening[0]["id"]})
    assert [e["event"] for e in missed] == ["rfq_created", "quote_submitted"]
    assert missed[0]["data"]["rfq"]["client_order_id"] == "a-1"
    ids = [int(e["id"].split("-")[1]) for e in missed]
    assert ids == sorted(ids) and ids[0] > int(opening[0]["id"].split("-")[1])
    assert sse(web, {**alice, "Last-Event-ID": missed[-1]["id"]}) == []
    stale = sse(web, {**alice, "Last-Event-ID": "0-5"})  # an id from an earlier life of the gateway
    assert [e["event"] for e in stale] == ["snapshot"]
    assert stale[0]["data"]["reason"] == "resume_gap"
    assert stale[0]["data"]["rfqs"][0]["dealers"][0]["quote"]["price"] == "99.5"
    dealer = sse(web, cast.auth("dealer-a"))[0]["data"]["rfqs"][0]
    assert dealer["role"] == "dealer" and "client_order_id" not in dealer
    assert sse(web, cast.auth("dealer-d"))[0]["data"]["rfqs"] == []


def test_health_readiness_and_openapi(web: TestClient) -> None:
    assert web.get("/healthz").json() == {"status": "ok"}
    ready = web.get("/readyz").json()
    assert ready["ready"] and ready["connected"] and ready["state_loaded"] and ready["leader_member_id"] == 0
    schema = web.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/v1/instruments", "/v1/instruments/{instrument_id}/enable",
        "/v1/instruments/{instrument_id}/disable",
        "/v1/rfqs", "/v1/rfqs/{rfq_id}", "/v1/rfqs/{rfq_id}/quotes", "/v1/rfqs/{rfq_id}/quote/withdraw",
        "/v1/rfqs/{rfq_id}/pass", "/v1/rfqs/{rfq_id}/quotes/{quote_id}/counter",
        "/v1/rfqs/{rfq_id}/quotes/{quote_id}/accept", "/v1/rfqs/{rfq_id}/counters/{counter_id}/accept",
        "/v1/rfqs/{rfq_id}/cancel", "/v1/events", "/v1/me", "/healthz", "/readyz",
    } <= paths  # fmt: skip
    assert schema["components"]["schemas"]["NewRfq"]["examples"]
    assert web.get("/problems/not-a-party").json()["status"] == 403
