"""Gateway unit tests: a directory with a cast of users, and the web app over a fake cluster (no JVM).

The cast: OPS (operator), ALICE and BOB (traders), dealers A, B and C (the default dealers) and D (not
a default). Fixtures hand out the cast's tokens; ``web`` is a running app (TestClient) over a
``FakeCluster`` that hosts the real state machine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rfq.gateway.identity import Directory
from rfq.gateway.testing import FakeCluster
from rfq.gateway.web.app import WebSettings, create_app

CUSIP = "912828YK0"


@dataclass
class Cast:
    tokens: dict[str, str]
    ids: dict[str, int]

    def auth(self, name: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[name]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers


def add_cast(directory: Directory) -> Cast:
    users = [
        ("ops", "operator", 1, False),
        ("alice", "trader", 101, False),
        ("bob", "trader", 102, False),
        ("dealer-a", "dealer", 201, True),
        ("dealer-b", "dealer", 202, True),
        ("dealer-c", "dealer", 203, True),
        ("dealer-d", "dealer", 204, False),
    ]
    tokens, ids = {}, {}
    for name, role, user_id, default in users:
        directory.add_user(name, role, user_id=user_id, default_dealer=default)
        tokens[name] = directory.issue_token(user_id)
        ids[name] = user_id
    return Cast(tokens, ids)


@pytest.fixture
def settings(tmp_path: Path) -> WebSettings:
    return WebSettings(data_dir=tmp_path, outcome_timeout_s=0.5, heartbeat_s=60)


@pytest.fixture
def cast(settings: WebSettings) -> Cast:
    directory = Directory(settings.directory_path)
    try:
        return add_cast(directory)
    finally:
        directory.close()


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 10
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.02)


@contextlib.contextmanager
def _open_web(settings: WebSettings, cluster: FakeCluster) -> Iterator[TestClient]:
    with TestClient(create_app(settings, cluster.transport_factory())) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def open_web(
    settings: WebSettings, cast: Cast
) -> Callable[[FakeCluster], contextlib.AbstractContextManager[TestClient]]:
    """Start (another life of) the web gateway over ``cluster``, with the same data dir."""
    return lambda cluster: _open_web(settings, cluster)


@pytest.fixture
def web(settings: WebSettings, cast: Cast, cluster: FakeCluster) -> Iterator[TestClient]:
    with _open_web(settings, cluster) as client:
        client.post(
            "/v1/instruments",
            json={"cusip": CUSIP, "min_quantity": 1_000, "description": "US Treasury note"},
            headers=cast.auth("ops"),
        ).raise_for_status()
        yield client
