"""Fixtures for system tests: real `rfq node` processes on loopback, and clients that talk to them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rfq.cluster.local import LocalCluster
from rfq.topology import Topology, free_port_base


@pytest.fixture
def three_nodes(tmp_path: Path, jvm: None) -> Iterator[LocalCluster]:
    """Three RFQ nodes in their own processes; stopped (and their /dev/shm folders removed) afterwards."""
    topology = Topology(hosts=("localhost",) * 3, port_base=free_port_base(members=3))
    cluster = LocalCluster(tmp_path / "cluster", topology)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
    leftover = [cluster.aeron_dir(m) for m in cluster.members if cluster.aeron_dir(m).exists()]
    assert not leftover, f"left behind: {leftover}"
