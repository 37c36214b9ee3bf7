"""The operator CLI against a running platform (``rfq run`` as a subprocess, a real node): instrument
add, disable (its live RFQs are cancelled, checked through the API), enable and list round trip;
``--json`` parses; a wrong check digit exits 2 naming it; an unreachable gateway exits 3; and no CLI
call imports JPype. Each CLI call is its own process, as an operator's would be.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rfq.testing import Platform, start_platform

pytestmark = pytest.mark.integration

CUSIP = "38141GXZ2"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = start_platform(tmp_path_factory.mktemp("operator-cli"))
    try:
        yield running
    finally:
        assert running.stop() == 0, running.output()
        assert not running.leftovers()


def cli(platform: Platform, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """``rfq ARGS`` in a process of its own, as the operator (or ``token``'s user)."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rfq", *args],
        env=platform.env(platform.tokens["ops"] if token is None else token),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def imported(done: subprocess.CompletedProcess[str]) -> set[str]:
    """The modules a ``-X importtime`` run imported."""
    return {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }


def errors(done: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(line for line in done.stderr.splitlines() if not line.startswith("import time:"))


def test_instrument_add_disable_enable_list_round_trip(platform: Platform) -> None:
    added = cli(platform, "instrument", "add", CUSIP, "--min-quantity", "50000", "--description", "GS note")
    assert added.returncode == 0, errors(added)
    assert (
        added.stdout.startswith("added instrument ")
        and f"{CUSIP} GS note, min 50,000, enabled" in added.stdout
    )
    assert not {name for name in imported(added) if name.split(".")[0] in ("jpype", "_jpype")}

    listed = json.loads(cli(platform, "instrument", "list", "--json").stdout)
    mine = next(i for i in listed if i["cusip"] == CUSIP)
    assert (mine["min_quantity"], mine["enabled"], mine["description"]) == (50_000, True, "GS note")
    assert {i["cusip"] for i in listed} >= {"912828YK0", "037833DX5", CUSIP}  # the demo's are there too

    alice = httpx.Client(
        base_url=platform.url, headers={"Authorization": f"Bearer {platform.tokens['alice']}"}
    )
    order: dict[str, Any] = {"cusip": CUSIP, "side": "sell", "quantity": 100_000, "ttl_seconds": 300}
    first = alice.post("/v1/rfqs", json=order)
    assert first.status_code == 201, first.text
    second = alice.post("/v1/rfqs", json={**order, "dealers": ["dealer-b"]})
    assert second.status_code == 201, second.text
    ids = sorted([first.json()["rfq_id"], second.json()["rfq_id"]])

    disabled = cli(platform, "instrument", "disable", CUSIP, "--json")
    assert disabled.returncode == 0, errors(disabled)
    answer = json.loads(disabled.stdout)
    assert answer["enabled"] is False and answer["cancelled_rfqs"] == ids
    for rfq_id in ids:  # the API says so too: the requester's view, and the operator's
        assert alice.get(f"/v1/rfqs/{rfq_id}").json()["status"] == "instrument_disabled"
    ops_view = json.loads(cli(platform, "rfqs", "list", "--all", "--json").stdout)
    assert {r["rfq_id"]: r["status"] for r in ops_view if r["rfq_id"] in ids} == dict.fromkeys(
        ids, "instrument_disabled"
    )
    refused = alice.post("/v1/rfqs", json=order)
    assert refused.status_code == 409 and refused.json()["reason"] == "INSTRUMENT_DISABLED"
    shown = cli(platform, "instrument", "list")
    assert any(line.split()[1:4] == [CUSIP, "50,000", "disabled"] for line in shown.stdout.splitlines())

    enabled = cli(platform, "instrument", "enable", str(mine["instrument_id"]))
    assert enabled.returncode == 0 and enabled.stdout.rstrip().endswith("enabled"), errors(enabled)
    again = alice.post("/v1/rfqs", json=order)
    assert again.status_code == 201, again.text
    live = json.loads(cli(platform, "rfqs", "list", "--json").stdout)
    assert again.json()["rfq_id"] in [r["rfq_id"] for r in live]
    assert "price" not in json.dumps(live)  # operators see states, not the dealers' prices
    assert json.loads(cli(platform, "instrument", "list", "--json").stdout)[-1]["enabled"] is True


def test_a_wrong_check_digit_exits_2_and_names_the_check_digit(platform: Platform) -> None:
    done = cli(platform, "instrument", "add", "38141GXZ3")
    assert done.returncode == 2
    assert "check digit" in errors(done) and "38141GXZ2" in errors(done), errors(done)
    listed = json.loads(cli(platform, "instrument", "list", "--json").stdout)
    assert "38141GXZ3" not in {i["cusip"] for i in listed}


def test_refusals_exit_1(platform: Platform) -> None:
    not_operator = cli(platform, "user", "list", token=platform.tokens["alice"])
    assert not_operator.returncode == 1 and "operator" in errors(not_operator)
    duplicate = cli(platform, "instrument", "add", "912828YK0")
    assert duplicate.returncode == 1 and "DUPLICATE_INSTRUMENT" in errors(duplicate), errors(duplicate)


def test_an_unreachable_gateway_exits_3(platform: Platform, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**platform.env(platform.tokens["ops"]), "RFQ_URL": f"http://127.0.0.1:{port}"}
    done = subprocess.run(
        [sys.executable, "-m", "rfq", "rfqs", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert f"cannot reach the gateway at http://127.0.0.1:{port}" in done.stderr
