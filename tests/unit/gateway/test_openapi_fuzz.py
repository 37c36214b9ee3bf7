"""schemathesis over every operation of the OpenAPI: no 5xx, every response conforms to the schema.

The server is real (uvicorn on 127.0.0.1, real HTTP); the cluster behind it is the fake one hosting
the real state machine, so this runs without a JVM. Each operation is called with a token whose role
may use it, so that generated requests reach the cluster and its refusals, not just the 401/403 gates.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from rfq.gateway.identity import Directory
from rfq.gateway.testing import FakeCluster
from rfq.gateway.web.app import WebSettings, create_app
from rfq.gateway.web.server import WebGatewayServer

_UNUSED = WebSettings(data_dir=Path(tempfile.gettempdir()) / "rfq-openapi-unused")
schema = schemathesis.openapi.from_dict(create_app(_UNUSED, FakeCluster().transport_factory()).openapi())

ROLES = {
    ("POST", "/v1/instruments"): "ops",
    ("POST", "/v1/instruments/{instrument_id}/enable"): "ops",
    ("POST", "/v1/instruments/{instrument_id}/disable"): "ops",
    ("POST", "/v1/rfqs/{rfq_id}/quotes"): "dealer",
    ("POST", "/v1/rfqs/{rfq_id}/quote/withdraw"): "dealer",
    ("POST", "/v1/rfqs/{rfq_id}/pass"): "dealer",
    ("POST", "/v1/rfqs/{rfq_id}/counters/{counter_id}/accept"): "dealer",
    ("POST", "/v1/users"): "ops",
    ("POST", "/v1/users/{user_id}/tokens"): "ops",
}
"""Everything else is called as the trader."""


def _directory() -> tuple[Path, dict[str, str]]:
    """The server's data dir and tokens: made at import, because schemathesis asks for auth while it
    collects the tests (removed when the ``server`` fixture ends, or at exit if it never runs)."""
    folder = Path(tempfile.mkdtemp(prefix="rfq-openapi-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # also when the fixture never runs
    directory = Directory(folder / "gateway.sqlite")
    tokens = {}
    for name, role, user_id in (("ops", "operator", 1), ("trader", "trader", 101), ("dealer", "dealer", 201)):
        directory.add_user(name, role, user_id=user_id, default_dealer=role == "dealer")
        tokens[name] = directory.issue_token(user_id)
    directory.close()
    return folder, tokens


DATA_DIR, TOKENS = _directory()


@schema.auth()
class Tokens:
    """Each operation is called with a token whose role may use it (schemathesis applies auth after
    generating a case, so a case is never "negative" only because of the header we add)."""

    def get(self, case: Any, ctx: Any) -> str:
        return TOKENS[ROLES.get((case.method.upper(), case.path), "trader")]

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    settings_ = WebSettings(data_dir=DATA_DIR, outcome_timeout_s=2, heartbeat_s=60)
    gateway = WebGatewayServer(settings_, FakeCluster().transport_factory(), port=0).start(10)
    try:
        auth = {"Authorization": f"Bearer {TOKENS['ops']}"}
        body = {"cusip": "912828YK0", "min_quantity": 1}
        httpx.post(f"{gateway.url}/v1/instruments", json=body, headers=auth).raise_for_status()
        yield gateway.url
    finally:
        gateway.stop()
        shutil.rmtree(DATA_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_schema(case: Any, server: str) -> None:
    if case.path == "/v1/events" and not case.meta.generation.mode.is_negative:
        case.query = {**(case.query or {}), "max_seconds": 0.05}  # a stream ends only when told
    headers = dict(case.headers or {})
    if "Idempotency-Key" in headers:  # generated keys repeat; a repeated key with another body is a 422
        headers["Idempotency-Key"] = uuid.uuid4().hex
    # a request valid by the schema may still be refused by the directory or the cluster (422, 409...)
    response = case.call_and_validate(
        base_url=server, headers=headers, excluded_checks=[positive_data_acceptance]
    )
    assert response.status_code < 500, response.text
