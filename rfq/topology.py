"""Where each member of a cluster listens: host names and a port plan shared by nodes and clients.

Every member ``i`` owns the ports ``port_base + i * PORTS_PER_MEMBER + offset`` (Aeron's own sample
plan), so a whole cluster is described by its host names and one port base, and a client derives the
ingress endpoints from the same description.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

PORTS_PER_MEMBER = 100
ARCHIVE_CONTROL_OFFSET = 1
INGRESS_OFFSET = 2
CONSENSUS_OFFSET = 3
LOG_OFFSET = 4
CATCHUP_OFFSET = 5
STATUS_OFFSET = 8
"""The node's HTTP status and metrics endpoint (TCP): see ``rfq.cluster.status``."""
_ALL_OFFSETS = (
    ARCHIVE_CONTROL_OFFSET,
    INGRESS_OFFSET,
    CONSENSUS_OFFSET,
    LOG_OFFSET,
    CATCHUP_OFFSET,
    STATUS_OFFSET,
)

DEFAULT_PORT_BASE = 20000


@dataclass(frozen=True)
class Topology:
    """The members of one cluster: ``hosts[i]`` is member ``i``."""

    hosts: tuple[str, ...] = ("localhost",)
    port_base: int = DEFAULT_PORT_BASE

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ValueError("a cluster has at least one member")
        top = self.port(len(self.hosts) - 1, PORTS_PER_MEMBER - 1)
        if not self.port_base >= 1024 or top > 65535:
            raise ValueError(f"port base {self.port_base} puts member ports outside 1024..65535")

    @property
    def size(self) -> int:
        """How many members the cluster has."""
        return len(self.hosts)

    def port(self, member_id: int, offset: int) -> int:
        """The port of ``member_id`` for one of the ``*_OFFSET`` roles."""
        return self.port_base + member_id * PORTS_PER_MEMBER + offset

    def endpoint(self, member_id: int, offset: int) -> str:
        """``host:port`` of ``member_id`` for one role."""
        return f"{self.hosts[member_id]}:{self.port(member_id, offset)}"

    def cluster_members(self) -> str:
        """The ConsensusModule ``clusterMembers`` string:
        ``id,ingress,consensus,log,catchup,archive|`` per member."""
        return "".join(
            f"{i},{self.endpoint(i, INGRESS_OFFSET)},{self.endpoint(i, CONSENSUS_OFFSET)},"
            f"{self.endpoint(i, LOG_OFFSET)},{self.endpoint(i, CATCHUP_OFFSET)},"
            f"{self.endpoint(i, ARCHIVE_CONTROL_OFFSET)}|"
            for i in range(self.size)
        )

    def status_endpoints(self) -> list[str]:
        """``host:port`` of every member's status endpoint, in member-id order."""
        return [self.endpoint(i, STATUS_OFFSET) for i in range(self.size)]

    def ingress_endpoints(self) -> str:
        """The AeronCluster client ``ingressEndpoints`` string: ``0=host:port,1=host:port``."""
        return ",".join(f"{i}={self.endpoint(i, INGRESS_OFFSET)}" for i in range(self.size))


def _ports_free(ports: Iterator[int]) -> bool:
    for port in ports:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    return False
    return True


def free_port_base(members: int = 1, start: int = 21000, stop: int = 60000, step: int = 500) -> int:
    """A port base whose member ports are all free on loopback right now (for tests and tools).

    The search starts at a place that depends on the process id, so that processes looking at the
    same moment (parallel test runs, a benchmark beside a test) rarely pick the same base.
    """
    bases = list(range(start, stop, step))
    first = os.getpid() % len(bases)
    for base in bases[first:] + bases[:first]:
        ports = (base + i * PORTS_PER_MEMBER + off for i in range(members) for off in _ALL_OFFSETS)
        if _ports_free(ports):
            return base
    raise RuntimeError(f"no free port base for {members} members between {start} and {stop}")
