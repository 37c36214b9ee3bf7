"""The routes' fast path (``rfq.gateway.web.fast_path``) answers exactly as FastAPI's own handler does.

Two gateways over two fake clusters, one with the fast path and one with FastAPI's handler on every
route, are sent the same requests, well-formed and not (tokens, roles, content types, bodies, path
parameters, keys); every answer must be the same, status, headers and body (times aside: each cluster
stamps its own).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from fastapi.routing import APIRoute, request_response
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings

from rfq.gateway.identity import Directory
from rfq.gateway.testing import FakeCluster
from rfq.gateway.web.app import WebSettings, create_app
from rfq.gateway.web.fast_path import FastPathRoute

from .conftest import CUSIP, Cast, add_cast, wait_ready

COMMANDS = [
    ("POST", "/v1/instruments"),
    ("POST", "/v1/instruments/{instrument_id}/enable"),
    ("POST", "/v1/instruments/{instrument_id}/disable"),
    ("POST", "/v1/rfqs"),
    ("POST", "/v1/rfqs/{rfq_id}/quotes"),
    ("POST", "/v1/rfqs/{rfq_id}/quote/withdraw"),
    ("POST", "/v1/rfqs/{rfq_id}/pass"),
    ("POST", "/v1/rfqs/{rfq_id}/quotes/{quote_id}/counter"),
    ("POST", "/v1/rfqs/{rfq_id}/quotes/{quote_id}/accept"),
    ("POST", "/v1/rfqs/{rfq_id}/counters/{counter_id}/accept"),
    ("POST", "/v1/rfqs/{rfq_id}/cancel"),
]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT")


def _routes(app: Any) -> dict[tuple[str, str], FastPathRoute]:
    return {
        (method, route.path): route
        for route in app.routes
        if isinstance(route, FastPathRoute)
        for method in route.methods or ()
    }


def test_every_cluster_command_and_the_event_stream_take_the_fast_path(tmp_path: Path) -> None:
    routes = _routes(create_app(WebSettings(data_dir=tmp_path), FakeCluster().transport_factory()))
    fast = {key for key, route in routes.items() if route.fast}
    assert set(COMMANDS) | {("GET", "/v1/events")} <= fast
    # an endpoint answering with a model needs FastAPI's serialisation: it keeps FastAPI's handler
    assert ("GET", "/v1/me") not in fast


@contextlib.contextmanager
def _gateway(data_dir: Path, fast: bool) -> Iterator[tuple[TestClient, Cast]]:
    data_dir.mkdir()
    settings = WebSettings(data_dir=data_dir, outcome_timeout_s=2, heartbeat_s=60)
    directory = Directory(settings.directory_path)
    cast = add_cast(directory)
    directory.close()
    app = create_app(settings, FakeCluster().transport_factory())
    if not fast:
        for route in _routes(app).values():
            route.app = request_response(APIRoute.get_route_handler(route))
    with TestClient(app) as client:
        wait_ready(client)
        yield client, cast


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[TestClient, Cast]]]:
    base = tmp_path_factory.mktemp("fast-path")
    with _gateway(base / "fast", fast=True) as fast, _gateway(base / "standard", fast=False) as standard:
        for client, cast in (fast, standard):
            answer = client.post(
                "/v1/instruments", json={"cusip": CUSIP, "min_quantity": 1_000}, headers=cast.auth("ops")
            )
            assert answer.status_code == 201, answer.text
        yield [fast, standard]


USERS = ["ops", "alice", "bob", "dealer-a", "dealer-b", "dealer-d"]
ids = st.one_of(st.integers(0, 4), st.sampled_from(["x", "-1", "9223372036854775808", "1.0", "%20"]))
bodies = st.one_of(
    st.fixed_dictionaries(
        {"cusip": st.just(CUSIP), "side": st.sampled_from(["buy", "sell"]), "quantity": st.just(5_000)},
        optional={
            "ttl_seconds": st.sampled_from([60, 0, "60"]),
            "dealers": st.sampled_from([["dealer-a", "dealer-b"], ["dealer-d"], [], ["ops"]]),
            "client_order_id": st.sampled_from(["c-1", "", " x", "y" * 21]),
        },
    ),
    st.fixed_dictionaries({"price": st.sampled_from(["99.5", "100", "-1", "1e3", 99.5])}),
    st.fixed_dictionaries(
        {"cusip": st.sampled_from([CUSIP, "037833DX5", "BAD"]), "min_quantity": st.integers(-1, 2)}
    ),
    st.dictionaries(st.sampled_from(["price", "side", "extra"]), st.sampled_from([1, "a", None])),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method, template = draw(st.sampled_from(COMMANDS))
    path = re.sub(r"\{[a-z_]+\}", lambda _: str(draw(ids)), template)
    headers: dict[str, str] = {}
    token = draw(st.sampled_from([*USERS, None, "wrong"]))
    if token is not None:
        headers["Authorization"] = draw(st.sampled_from(["Bearer {}", "bearer {}", "Basic {}"])).format(token)
    key = draw(st.one_of(st.none(), st.sampled_from(["k1", "k2", ""]), st.text(min_size=1, max_size=3)))
    if key is not None and key.isprintable() and key.isascii():
        headers["Idempotency-Key"] = key
    body = draw(st.one_of(st.none(), bodies.map(json.dumps), st.sampled_from(["{", "[]", "null", ""])))
    if body is not None:
        headers["Content-Type"] = draw(
            st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"])
        )
    return {"method": method, "url": path, "headers": headers, "content": body}


def _normalised(answer: Any) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in answer.headers.items() if k not in ("date", "content-length")}
    try:
        body: Any = answer.json()
    except ValueError:
        body = answer.text
    return answer.status_code, headers, _timeless(body)


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return "<time>" if isinstance(value, str) and TIME.match(value) else value


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(requests(), min_size=1, max_size=4))
@example(  # FastAPI reads the body before it authenticates: a malformed one is a 422, not a 401
    sequence=[
        {
            "method": "POST",
            "url": "/v1/rfqs",
            "headers": {"Authorization": "Basic alice", "Content-Type": "application/json"},
            "content": "{",
        }
    ]
)
def test_the_fast_path_answers_as_fastapi_does(
    gateways: list[tuple[TestClient, Cast]], sequence: list[dict[str, Any]]
) -> None:
    for request in sequence:
        answers = []
        for client, cast in gateways:
            headers = dict(request["headers"])
            if "Authorization" in headers:  # each gateway's own token for the same user
                scheme, _, name = headers["Authorization"].partition(" ")
                headers["Authorization"] = f"{scheme} {cast.tokens.get(name, name)}"
            answers.append(_normalised(client.request(**{**request, "headers": headers})))
        assert answers[0] == answers[1], request
