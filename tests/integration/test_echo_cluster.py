"""A Python service in a real single-node Aeron Cluster answers 100,000 Python-client messages."""

from __future__ import annotations

import struct

import pytest

from rfq.cluster.echo import EchoService
from rfq.cluster.node import EmbeddedNode, NodeConfig
from rfq.gateway.cluster_client import ClientConfig, ClusterClient
from rfq.topology import Topology

pytestmark = pytest.mark.integration

FRAME = struct.Struct("<q24s")
WINDOW = 128
WARM_UP = 150_000


def rss_bytes() -> int:
    """Resident set size of this process (the node, its JVM and the client all live here)."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    print({k: fields[k].strip() for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")})
    return int(fields["VmRSS"].split()[0]) * 1024


def payload(sequence: int) -> bytes:
    return (sequence * 0x9E3779B97F4A7C15 & (1 << 192) - 1).to_bytes(24, "little")


class EchoChecker:
    """Sends numbered frames with a window in flight and checks every reply, in order, byte for byte."""

    def __init__(self, client_config: ClientConfig) -> None:
        self.next_expected = 0
        self.errors: list[str] = []
        self.client = ClusterClient(client_config, self.on_frame).connect()

    def on_frame(self, frame: memoryview) -> None:
        if len(frame) != FRAME.size:
            self.errors.append(f"reply {self.next_expected}: {len(frame)} bytes")
        else:
            sequence, body = FRAME.unpack(frame)
            if sequence != self.next_expected or body != payload(sequence):
                self.errors.append(f"expected reply {self.next_expected}, got {sequence}")
        self.next_expected += 1

    def run(self, start: int, count: int) -> None:
        sent = start
        end = start + count
        while self.next_expected < end:
            if (
                sent < end
                and sent - self.next_expected < WINDOW
                and self.client.offer(FRAME.pack(sent, payload(sent)))
            ):
                sent += 1
                continue
            self.client.poll()


def test_python_service_answers_100k_messages_with_flat_rss(
    jvm: None, topology: Topology, no_leftover_shm: None
) -> None:
    service = EchoService()
    with EmbeddedNode(NodeConfig(topology=topology), service) as node:
        checker = EchoChecker(
            ClientConfig(ingress_endpoints=node.ingress_endpoints, aeron_dir=node.aeron_directory_name)
        )
        try:
            # Warm-up: Aeron maps its term buffers sparsely and the JVM touches its heap lazily, so RSS
            # climbs until every log, ingress and egress term has been written once (the 4m-term log
            # takes ~130k of these frames). Only growth after that is a leak.
            checker.run(0, WARM_UP)
            rss_before = rss_bytes()
            checker.run(WARM_UP, 100_000)
            rss_after = rss_bytes()
        finally:
            checker.client.close()
        assert node.host is not None
        assert node.host.service_errors == 0, node.host.last_error
        assert node.host.failed_offers == 0

    assert checker.errors == []
    assert checker.next_expected == WARM_UP + 100_000
    assert service.messages == WARM_UP + 100_000
    growth_mb = (rss_after - rss_before) / 2**20
    print(f"RSS {rss_before / 2**20:.0f} MB -> {rss_after / 2**20:.0f} MB over 100,000 messages")
    assert growth_mb < 50, f"RSS grew by {growth_mb:.1f} MB over 100,000 messages"
