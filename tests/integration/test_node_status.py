"""One real node's status endpoint: /status, /metrics (counters move by exactly the traffic sent),
POST /snapshot, and `rfq cluster status` reading it from a process without a JVM."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rfq.cluster.node import EmbeddedNode, NodeConfig
from rfq.cluster.service import RfqService
from rfq.cluster.status import StatusServer
from rfq.codecs.rfq_sbe import (
    AddInstrument,
    BooleanType,
    CancelRfq,
    CommandRejected,
    CreateRfq,
    CreateRfqDealers,
    InstrumentAdded,
    PassRfq,
    RejectReason,
    RfqCreated,
    Side,
    SubmitQuote,
)
from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.command_client import CommandClient
from rfq.topology import Topology

pytestmark = pytest.mark.integration


@pytest.fixture
def node(jvm: None, topology: Topology, no_leftover_shm: None) -> Iterator[EmbeddedNode]:
    with EmbeddedNode(NodeConfig(topology=topology), RfqService()) as running:
        yield running


@pytest.fixture
def status(node: EmbeddedNode) -> Iterator[StatusServer]:
    """The node's status endpoint, once the node leads (a node starts as a follower)."""
    with StatusServer(node) as server:
        deadline = time.monotonic() + 30
        while json.loads(get(f"{server.url}/status"))["role"] != "leader":
            assert time.monotonic() < deadline, "the node did not become leader"
            time.sleep(0.05)
        yield server


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the endpoint, parsed with prometheus-client's own parser."""
    text = get(f"{url}/metrics").decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def post_snapshot(url: str, patience_s: float = 30.0) -> int:
    """POST /snapshot; a leader still completing its election answers 503 + Retry-After: ask again."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            request = urllib.request.Request(f"{url}/snapshot", method="POST")
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as refused:
            if refused.code != 503 or time.monotonic() > deadline:
                raise AssertionError(f"{refused.code}: {refused.read().decode()}") from refused
            assert refused.headers["Retry-After"] == "1"
            time.sleep(0.2)


def total(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(value for (sample, _), value in values.items() if sample == name)


def seven_commands_two_refused(client: CommandClient) -> list[Any]:
    """Seven commands: five applied, two refused (NOT_INVITED, UNKNOWN_RFQ)."""
    outcomes = []

    def send(command: Any) -> Any:
        outcome = client.request(command, timeout_s=30)
        outcomes.append(outcome)
        return outcome

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
    for requester in (10, 11):
        created = send(
            CreateRfq(
                correlation_id=client.next_correlation_id(),
                user_id=requester,
                instrument_id=added.instrument_id,
                side=Side.BUY,
                quantity=1_000,
                expire_time_ms=int(time.time() * 1000) + 600_000,
                cl_ord_id=f"o-{requester}",
                dealers=[CreateRfqDealers(dealer_user_id=d) for d in (501, 502)],
            )
        )
        assert isinstance(created, RfqCreated)
        rfq_ids.append(created.rfq_id)
    quote = SubmitQuote(correlation_id=client.next_correlation_id(), user_id=501, rfq_id=rfq_ids[0], price=99)
    send(quote)
    send(SubmitQuote(correlation_id=client.next_correlation_id(), user_id=999, rfq_id=rfq_ids[0], price=98))
    send(CancelRfq(correlation_id=client.next_correlation_id(), user_id=10, rfq_id=12345))
    send(PassRfq(correlation_id=client.next_correlation_id(), user_id=502, rfq_id=rfq_ids[1]))
    return outcomes


def test_metrics_move_by_exactly_the_commands_sent(node: EmbeddedNode, status: StatusServer) -> None:
    before = samples(status.url)
    config = ClientConfig(ingress_endpoints=node.ingress_endpoints)
    with CommandClient(config, gateway_id=3, resend_after_s=120) as client:  # no resend: exact counts
        outcomes = seven_commands_two_refused(client)
    refused = [o for o in outcomes if isinstance(o, CommandRejected)]
    assert [r.reason for r in refused] == [RejectReason.NOT_INVITED, RejectReason.UNKNOWN_RFQ]
    after = samples(status.url)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert total(after, "rfq_node_commands_total") - total(before, "rfq_node_commands_total") == 7
    assert delta("rfq_node_commands_total", command="CreateRfq") == 2
    assert delta("rfq_node_commands_total", command="SubmitQuote") == 2
    assert total(after, "rfq_node_refusals_total") - total(before, "rfq_node_refusals_total") == 2
    assert delta("rfq_node_refusals_total", reason="NOT_INVITED") == 1
    assert delta("rfq_node_refusals_total", reason="UNKNOWN_RFQ") == 1
    # every log message is timed: the seven commands, and the session's open/close are not messages
    assert delta("rfq_node_message_seconds_count") == 7
    assert delta("rfq_node_message_seconds_bucket", le="+Inf") == 7
    assert after[("rfq_node_is_leader", ())] == 1.0
    assert after[("rfq_node_elections_total", ())] >= 1


def test_status_and_snapshot(node: EmbeddedNode, status: StatusServer) -> None:
    document = json.loads(get(f"{status.url}/status"))
    deadline = time.monotonic() + 10
    while document["election"] != "CLOSED":  # the member elects itself as it starts: it closes soon
        assert time.monotonic() < deadline, document
        time.sleep(0.1)
        document = json.loads(get(f"{status.url}/status"))
    assert document["member_id"] == 0 and document["cluster_size"] == 1
    assert document["role"] == "leader" and document["module_state"] == "ACTIVE"
    assert document["leadership_term_id"] >= 0
    assert document["commit_position"] >= document["log_position"] >= 0  # 0 until a message is applied
    assert document["snapshot"] is None and document["snapshots"] == []
    assert document["timeouts_ms"]["leader_heartbeat_timeout"] == node.config.leader_heartbeat_timeout_ms

    assert post_snapshot(status.url) == 202
    deadline = time.monotonic() + 30
    while (document := json.loads(get(f"{status.url}/status")))["snapshot"] is None:
        assert time.monotonic() < deadline, document
        time.sleep(0.1)
    assert document["snapshots_taken"] == 1
    assert isinstance(node.service, RfqService)
    position, digest = node.service.digests[-1]
    assert document["snapshot"] == {"log_position": position, "digest": digest}

    with pytest.raises(urllib.error.HTTPError) as missing:
        get(f"{status.url}/nothing-here")
    assert missing.value.code == 404


def test_rfq_cluster_status_reads_it_without_a_jvm(
    status: StatusServer, rfq_without_jvm: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    host, port = status.address
    done = rfq_without_jvm("cluster", "status", "--json", "--members", f"{host}:{port}")
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["leader"] == 0 and view["unreachable"] == []
    assert view["members"][0]["role"] == "leader"
    assert view["digests"]["agree"] is None  # one member: nothing to compare
