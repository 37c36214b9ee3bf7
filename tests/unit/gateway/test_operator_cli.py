"""The operator CLI (``rfq instrument|user|rfqs``) over real HTTP, against a web gateway whose cluster
is the fake one (no JVM): output, ``--json``, exit codes, and that the CLI never loads JPype.

The same commands against a real node are in tests/integration/test_operator_cli.py.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from rfq.cli import main
from rfq.gateway.testing import FakeCluster
from rfq.gateway.web.app import WebSettings
from rfq.gateway.web.server import WebGatewayServer


@pytest.fixture
def server(settings: WebSettings, cast: Any) -> Iterator[WebGatewayServer]:
    with WebGatewayServer(settings, FakeCluster().transport_factory(), port=0) as running:
        running.start(ready_timeout_s=20)
        yield running


def rfq(server: WebGatewayServer, token: str, *args: str) -> Result:
    env = {"RFQ_URL": server.url, "RFQ_TOKEN": token}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_instruments_round_trip_and_disable_cancels_live_rfqs(server: WebGatewayServer, cast: Any) -> None:
    ops = cast.tokens["ops"]
    added = rfq(
        server, ops, "instrument", "add", "912828yk0", "--min-quantity", "1000", "--description", "UST"
    )
    assert added.exit_code == 0, added.output
    assert added.stdout == "added instrument 1: 912828YK0 UST, min 1,000, enabled\n"

    as_json = rfq(server, ops, "instrument", "list", "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == [
        {
            "instrument_id": 1,
            "cusip": "912828YK0",
            "min_quantity": 1000,
            "enabled": True,
            "description": "UST",
        }
    ]
    table = rfq(server, ops, "instrument", "list").stdout
    assert re.search(r"1\s+912828YK0\s+1,000\s+enabled\s+UST", table), table

    http = httpx.Client(base_url=server.url, headers=cast.auth("alice"))
    body = {
        "cusip": "912828YK0",
        "side": "buy",
        "quantity": 5_000,
        "ttl_seconds": 60,
        "dealers": ["dealer-a"],
    }
    rfq_id = http.post("/v1/rfqs", json=body).json()["rfq_id"]

    disabled = rfq(server, ops, "instrument", "disable", "912828YK0", "--json")
    assert disabled.exit_code == 0, disabled.output
    assert json.loads(disabled.stdout)["enabled"] is False
    assert json.loads(disabled.stdout)["cancelled_rfqs"] == [rfq_id]
    assert http.get(f"/v1/rfqs/{rfq_id}").json()["status"] == "instrument_disabled"
    refused = http.post("/v1/rfqs", json=body)
    assert refused.status_code == 409 and refused.json()["reason"] == "INSTRUMENT_DISABLED"

    enabled = rfq(server, ops, "instrument", "enable", "1")
    assert enabled.exit_code == 0 and enabled.stdout.endswith("enabled\n"), enabled.output
    assert http.post("/v1/rfqs", json=body).status_code == 201

    listed = json.loads(rfq(server, ops, "rfqs", "list", "--json").stdout)
    assert [(r["rfq_id"], r["status"]) for r in listed] == [(rfq_id + 1, "live")]
    everything = json.loads(rfq(server, ops, "rfqs", "list", "--all", "--json").stdout)
    assert [r["status"] for r in everything] == ["instrument_disabled", "live"]
    shown = rfq(server, ops, "rfqs", "show", str(rfq_id + 1))
    assert shown.exit_code == 0 and "alice asks to buy 5,000 912828YK0" in shown.stdout, shown.output
    assert re.search(r"dealer-a\s+invited", shown.stdout), shown.stdout


def test_users_add_list_and_token(server: WebGatewayServer, cast: Any) -> None:
    ops = cast.tokens["ops"]
    added = rfq(server, ops, "user", "add", "carol", "trader", "--json")
    assert added.exit_code == 0, added.output
    carol = json.loads(added.stdout)
    assert (carol["name"], carol["role"]) == ("carol", "trader") and carol["token"].startswith("rfq_")
    me = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {carol['token']}"}).json()
    assert me["name"] == "carol"

    listed = rfq(server, ops, "user", "list")
    assert re.search(r"\d+\s+carol\s+trader", listed.stdout), listed.stdout
    token = rfq(server, ops, "user", "token", "carol")
    assert token.exit_code == 0 and re.fullmatch(r"rfq_\S+\n", token.stdout), token.output
    assert "a new token for carol" in token.stderr
    again = rfq(server, ops, "user", "add", "carol", "dealer")
    assert again.exit_code == 1 and "exists" in again.stderr, again.output


def test_user_revoke_ends_every_token_of_that_user_only(
    server: WebGatewayServer, cast: Any, settings: WebSettings
) -> None:
    ops = cast.tokens["ops"]
    second = rfq(server, ops, "user", "token", "bob").stdout.strip()
    revoked = rfq(server, ops, "user", "revoke", "bob")
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout == f"revoked 2 API tokens of bob (user {cast.ids['bob']})\n"
    for token in (cast.tokens["bob"], second):
        me = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401, me.text
    assert rfq(server, cast.tokens["alice"], "rfqs", "list").exit_code == 0  # alice keeps hers
    as_json = rfq(server, ops, "user", "revoke", str(cast.ids["bob"]), "--json")
    assert json.loads(as_json.stdout) == {"user_id": cast.ids["bob"], "name": "bob", "revoked": 0}
    assert rfq(server, ops, "user", "revoke", "nobody").exit_code == 1
    not_allowed = rfq(server, cast.tokens["alice"], "user", "revoke", "bob")
    assert not_allowed.exit_code == 1 and "only a operator" in not_allowed.stderr, not_allowed.stderr

    # the same on the directory's file, as on the gateway's machine (no HTTP); the running gateway
    # refuses the token within its recheck period
    token = rfq(server, ops, "user", "token", "alice").stdout.strip()
    local = CliRunner().invoke(
        main, ["gateway", "users", "revoke", "alice", "--data-dir", str(settings.data_dir)]
    )
    assert local.exit_code == 0, local.output
    assert local.stdout == f"revoked 2 API tokens of user {cast.ids['alice']} alice\n"
    deadline = time.monotonic() + 5
    while httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code != 401:
        assert time.monotonic() < deadline, "the gateway still accepts a revoked token"
        time.sleep(0.05)
    unknown = CliRunner().invoke(
        main, ["gateway", "users", "revoke", "nobody", "--data-dir", str(settings.data_dir)]
    )
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output


def test_exit_codes(server: WebGatewayServer, cast: Any) -> None:
    ops = cast.tokens["ops"]
    wrong = rfq(server, ops, "instrument", "add", "912828YK1")
    assert wrong.exit_code == 2
    assert "check digit" in wrong.stderr and "912828YK0" in wrong.stderr, wrong.stderr
    assert rfq(server, ops, "instrument", "add", "91282").exit_code == 2
    refused = rfq(server, cast.tokens["alice"], "instrument", "list", "--json")
    assert refused.exit_code == 0  # any user may read instruments
    not_allowed = rfq(server, cast.tokens["alice"], "user", "list")
    assert not_allowed.exit_code == 1 and "only a operator" in not_allowed.stderr, not_allowed.stderr
    assert rfq(server, "rfq_unknown", "rfqs", "list").exit_code == 1
    assert rfq(server, ops, "rfqs", "show", "99").exit_code == 1
    assert rfq(server, ops, "instrument", "disable", "037833DX5").exit_code == 1  # unknown CUSIP
    no_token = CliRunner().invoke(main, ["rfqs", "list"], env={"RFQ_URL": server.url, "RFQ_TOKEN": ""})
    assert no_token.exit_code == 2 and "RFQ_TOKEN" in no_token.stderr


def test_an_unreachable_gateway_exits_3_and_the_cli_never_imports_jpype() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rfq", "instrument", "list"],
        env={**os.environ, "RFQ_URL": url, "RFQ_TOKEN": "rfq_x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr[-2000:]
    assert f"cannot reach the gateway at {url}" in done.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "rfq.admin" in imported and "httpx" in imported
    assert not {name for name in imported if name.split(".")[0] in ("jpype", "_jpype")}
