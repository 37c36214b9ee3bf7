"""Starting and stopping the embedded node repeatedly leaves no thread, process, folder or file behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rfq.cluster.echo import EchoService
from rfq.cluster.node import EmbeddedNode, NodeConfig
from rfq.gateway.cluster_client import ClientConfig, ClusterClient
from rfq.topology import Topology, free_port_base

pytestmark = pytest.mark.integration


def round_trip(node: EmbeddedNode) -> bytes:
    """One message through the node from a client with its own media driver."""
    replies: list[bytes] = []
    with ClusterClient(
        ClientConfig(ingress_endpoints=node.ingress_endpoints), lambda f: replies.append(bytes(f))
    ) as client:
        while not client.offer(b"ping-ping-ping-ping"):
            client.poll()
        while not replies:
            client.poll()
    return replies[0]


def test_five_start_stop_cycles_leave_nothing_behind(jvm: None, footprint: Callable[[], Any]) -> None:
    before = footprint()
    base_dirs = []
    for _ in range(5):
        node = EmbeddedNode(NodeConfig(topology=Topology(port_base=free_port_base())), EchoService())
        with node:
            assert node.aeron_dir.is_dir()
            assert round_trip(node) == b"ping-ping-ping-ping"
            base_dirs.append(node.base_dir)
        assert not node.aeron_dir.exists()
        after = footprint()
        assert after.python_threads == before.python_threads
        assert after.java_threads == before.java_threads
        assert after.child_pids == before.child_pids
        assert after.shm == before.shm
    assert not any(path.exists() for path in base_dirs)
    # the JVM opens its jars lazily on first use; afterwards the count must be stable
    assert footprint().open_fds <= before.open_fds + 8


def test_a_configured_base_dir_is_kept_and_reused(
    jvm: None, tmp_path: Any, footprint: Callable[[], Any]
) -> None:
    config = NodeConfig(topology=Topology(port_base=free_port_base()), base_dir=tmp_path / "node")
    with EmbeddedNode(config, EchoService()) as node:
        assert round_trip(node) == b"ping-ping-ping-ping"
    assert (tmp_path / "node" / "cluster").is_dir()
    assert (tmp_path / "node" / "archive").is_dir()
    with EmbeddedNode(config, EchoService()) as node:  # restarts from its own log
        assert round_trip(node) == b"ping-ping-ping-ping"
