"""Three real nodes seen through their status endpoints and `rfq cluster status|snapshot` (a process
without a JVM): one leader; every replica's metrics move by exactly the commands sent; a snapshot whose
digests agree; after the leader is SIGKILLed, the new leader; after it returns, all well again."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rfq.cluster.local import LocalCluster
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    BooleanType,
    CancelRfq,
    CommandRejected,
    CreateRfq,
    CreateRfqDealers,
    InstrumentAdded,
    RfqCreated,
    Side,
    SubmitQuote,
)
from rfq.gateway.command_client import CommandClient

pytestmark = pytest.mark.system

Cli = Callable[..., subprocess.CompletedProcess[str]]


def status(cli: Cli, cluster: LocalCluster, *extra: str) -> tuple[int, dict[str, Any]]:
    """``rfq cluster status --json`` for ``cluster`` (named by hosts and port base, as an operator would)."""
    hosts = ",".join(cluster.topology.hosts)
    done = cli("cluster", *extra, "--json", "--hosts", hosts, "--port-base", str(cluster.topology.port_base))
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def status_until(
    cli: Cli, cluster: LocalCluster, want: Callable[[int, dict[str, Any]], bool], timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        code, view = status(cli, cluster, "status")
        if want(code, view):
            return view
        assert time.monotonic() < deadline, f"exit {code}: {json.dumps(view, indent=1)[:3000]}"
        time.sleep(0.3)


def counters(cluster: LocalCluster, member: int) -> dict[str, float]:
    """Totals of the node's command and refusal counters (all label values summed)."""
    with urllib.request.urlopen(f"{cluster.status_url(member)}/metrics", timeout=10) as response:
        text = response.read().decode()
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


def seven_commands_two_refused(client: CommandClient) -> None:
    def send(command: Any) -> Any:
        return client.request(command, timeout_s=60)

    added = send(
        AddInstrument(
            correlation_id=client.next_correlation_id(),
            user_id=1,
            min_quantity=1,
            enabled=BooleanType.TRUE,
            cusip="037833100",
        )
    )
    assert isinstance(added, InstrumentAdded)
    rfq_ids = []
    for requester in (10, 11, 12):
        created = send(
            CreateRfq(
                correlation_id=client.next_correlation_id(),
                user_id=requester,
                instrument_id=added.instrument_id,
                side=Side.SELL,
                quantity=1_000,
                expire_time_ms=int(time.time() * 1000) + 600_000,
                cl_ord_id=f"o-{requester}",
                dealers=[CreateRfqDealers(dealer_user_id=501)],
            )
        )
        assert isinstance(created, RfqCreated)
        rfq_ids.append(created.rfq_id)
    send(SubmitQuote(correlation_id=client.next_correlation_id(), user_id=501, rfq_id=rfq_ids[0], price=99))
    refused = [
        send(
            SubmitQuote(correlation_id=client.next_correlation_id(), user_id=777, rfq_id=rfq_ids[1], price=9)
        ),
        send(CancelRfq(correlation_id=client.next_correlation_id(), user_id=10, rfq_id=99_999)),
    ]
    assert all(isinstance(r, CommandRejected) for r in refused), refused


def test_status_snapshot_and_failover_through_the_status_endpoints(
    three_nodes: LocalCluster, rfq_without_jvm: Cli
) -> None:
    cluster, cli = three_nodes, rfq_without_jvm
    view = status_until(cli, cluster, lambda code, _: code == 0, timeout_s=120)  # JVMs start slowly when busy
    leader = view["leader"]
    roles = sorted(member["role"] for member in view["members"])
    assert roles == ["follower", "follower", "leader"]
    assert len({member["leadership_term_id"] for member in view["members"]}) == 1

    # every replica applies every command: each one's counters move by exactly what was sent
    before = [counters(cluster, m) for m in cluster.members]
    # resend_after_s: a command is not resent for want of an answer, so the counts are exact
    client = CommandClient(cluster.client_config(), gateway_id=9, resend_after_s=120)
    client.connect(wait_s=30)
    try:
        seven_commands_two_refused(client)
    finally:
        client.close()
    deadline = time.monotonic() + 30
    for member in cluster.members:

        def moved(name: str, m: int = member) -> float:
            return counters(cluster, m).get(name, 0.0) - before[m].get(name, 0.0)

        while moved("rfq_node_commands_total") < 7:
            assert time.monotonic() < deadline, f"member {member} did not apply the commands"
            time.sleep(0.1)
        assert moved("rfq_node_commands_total") == 7
        assert moved("rfq_node_refusals_total") == 2

    # a snapshot taken through the leader's endpoint: every replica, one position, one digest
    code, snapped = status(cli, cluster, "snapshot")
    assert code == 0, snapped
    digests = snapped["digests"]
    assert digests["agree"] is True and digests["members"] == [0, 1, 2], digests
    positions = {member["snapshot"]["log_position"] for member in snapped["members"]}
    assert positions == {digests["log_position"]}
    assert len({member["snapshot"]["digest"] for member in snapped["members"]}) == 1
    assert status(cli, cluster, "status")[0] == 0

    # the leader dies: status names the new leader (and exits 3: a member cannot be reached)
    cluster.kill(leader)
    after_kill = status_until(
        cli, cluster, lambda code, v: v["leader"] not in (None, leader) and code == 3, timeout_s=30
    )
    assert after_kill["unreachable"] == [leader]
    assert after_kill["leadership_term_id"] > view["leadership_term_id"]
    assert after_kill["digests"]["agree"] is True  # the survivors' snapshots still agree

    # it comes back as a follower; all is well again
    cluster.start(leader)
    healed = status_until(cli, cluster, lambda code, _: code == 0, timeout_s=90)
    assert healed["members"][leader]["role"] == "follower"
    assert healed["leader"] == after_kill["leader"]
