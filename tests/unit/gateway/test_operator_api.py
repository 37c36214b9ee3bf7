"""The operator endpoints over a fake cluster: user management, and the operator's view of RFQs.

The view's privacy rule (``rfq.gateway.views``): operators see every RFQ's state, parties and trade,
never a live quote's or a counter's price, the cover or the client order id.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

CUSIP = "912828YK0"
PROBLEM = "application/problem+json"


def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}", body
    return body


def test_operators_add_users_and_issue_tokens_that_work(web: TestClient, cast: Any) -> None:
    ops = cast.auth("ops")
    added = web.post("/v1/users", json={"name": "carol", "role": "trader"}, headers=ops)
    assert added.status_code == 201, added.text
    carol = added.json()
    assert carol == {"user_id": 205, "name": "carol", "role": "trader", "default_dealer": False}
    assert "carol" in [u["name"] for u in web.get("/v1/users", headers=ops).json()]

    issued = web.post("/v1/users/205/tokens", json={"label": "laptop"}, headers=ops)
    assert issued.status_code == 201, issued.text
    token = issued.json()
    assert (token["user_id"], token["name"], token["label"]) == (205, "carol", "laptop")
    me = web.get("/v1/me", headers={"Authorization": f"Bearer {token['token']}"}).json()
    assert me == {"user_id": 205, "name": "carol", "role": "trader"}
    assert web.post("/v1/users/205/tokens", headers=ops).status_code == 201  # the body is optional

    dealer = web.post(
        "/v1/users",
        json={"name": "dealer-e", "role": "dealer", "user_id": 300, "default_dealer": True},
        headers=ops,
    )
    assert dealer.status_code == 201 and dealer.json()["default_dealer"] is True


def test_user_management_refusals(web: TestClient, cast: Any) -> None:
    ops = cast.auth("ops")
    taken = problem(
        web.post("/v1/users", json={"name": "alice", "role": "dealer"}, headers=ops), 409, "user-exists"
    )
    assert "101" in taken["detail"]
    problem(
        web.post("/v1/users", json={"name": "zed", "role": "dealer", "user_id": 201}, headers=ops),
        409,
        "user-exists",
    )
    problem(
        web.post("/v1/users", json={"name": "zed", "role": "trader", "default_dealer": True}, headers=ops),
        422,
        "validation-error",
    )
    problem(
        web.post("/v1/users", json={"name": "has space", "role": "trader"}, headers=ops),
        422,
        "validation-error",
    )
    problem(web.post("/v1/users", json={"name": "zed", "role": "king"}, headers=ops), 422, "validation-error")
    problem(web.post("/v1/users/999/tokens", headers=ops), 404, "not-found")
    for name in ("alice", "dealer-a"):
        problem(
            web.post("/v1/users", json={"name": "x", "role": "trader"}, headers=cast.auth(name)),
            403,
            "forbidden-role",
        )
        problem(web.post("/v1/users/101/tokens", headers=cast.auth(name)), 403, "forbidden-role")
        problem(web.get("/v1/users", headers=cast.auth(name)), 403, "forbidden-role")


def test_operators_see_every_rfq_without_live_prices(web: TestClient, cast: Any) -> None:
    def post(name: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = web.post(path, json=body, headers=cast.auth(name))
        assert response.is_success, response.text
        answer: dict[str, Any] = response.json()
        return answer

    order = {"cusip": CUSIP, "side": "buy", "quantity": 5_000, "ttl_seconds": 60}
    one = post(
        "alice", "/v1/rfqs", {**order, "client_order_id": "secret-1", "dealers": ["dealer-a", "dealer-b"]}
    )
    two = post("bob", "/v1/rfqs", {**order, "client_order_id": "secret-2", "dealers": ["dealer-c"]})
    quote_a = post("dealer-a", f"/v1/rfqs/{one['rfq_id']}/quotes", {"price": "99.125"})["quote"]
    post("dealer-b", f"/v1/rfqs/{one['rfq_id']}/quotes", {"price": "99.375"})
    post("alice", f"/v1/rfqs/{one['rfq_id']}/quotes/{quote_a['quote_id']}/counter", {"price": "99.0625"})
    post("dealer-c", f"/v1/rfqs/{two['rfq_id']}/quotes", {"price": "98.75"})

    ops = cast.auth("ops")
    live = web.get("/v1/rfqs", params={"status": "live"}, headers=ops).json()
    assert [(r["rfq_id"], r["role"], r["status"]) for r in live] == [
        (one["rfq_id"], "operator", "live"),
        (two["rfq_id"], "operator", "live"),
    ]
    first = live[0]
    assert first["requester"] == {"user_id": 101, "name": "alice"}
    assert [(d["dealer"]["name"], d["state"]) for d in first["dealers"]] == [
        ("dealer-a", "quoted"),
        ("dealer-b", "quoted"),
    ]
    text = json.dumps(live)
    for secret in ("99.125", "99.375", "99.0625", "98.75", "secret-1", "secret-2", "price"):
        assert secret not in text, secret

    trade = post("alice", f"/v1/rfqs/{one['rfq_id']}/quotes/{quote_a['quote_id']}/accept")["trade"]
    assert trade["cover_price"] == "99.375"
    shown = web.get(f"/v1/rfqs/{one['rfq_id']}", headers=ops).json()
    assert shown["status"] == "traded" and shown["trade"]["price"] == "99.125"
    assert (shown["trade"]["buyer"]["name"], shown["trade"]["seller"]["name"]) == ("alice", "dealer-a")
    assert "cover" not in json.dumps(shown) and "99.375" not in json.dumps(shown)
    assert [r["rfq_id"] for r in web.get("/v1/rfqs", params={"status": "live"}, headers=ops).json()] == [
        two["rfq_id"]
    ]
    assert len(web.get("/v1/rfqs", headers=ops).json()) == 2  # "all" includes the traded one

    web.post("/v1/instruments/1/disable", headers=ops).raise_for_status()
    assert web.get(f"/v1/rfqs/{two['rfq_id']}", headers=ops).json()["status"] == "instrument_disabled"
    problem(web.get("/v1/rfqs/999", headers=ops), 404, "not-found")
