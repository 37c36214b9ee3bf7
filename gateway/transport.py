"""The real transport of a gateway core: a cluster session through Aeron (``CommandClient``).

Shared by every edge (web, FIX) so that none imports another: ``command_client_factory`` is what an
edge passes to ``GatewayCore``; ``embedded_client_config`` reaches a node in the same process.
"""

from __future__ import annotations

from typing import Any

from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.command_client import CommandClient, CorrelationIds
from rfq.gateway.core import Transport, TransportFactory
from rfq.jvm import DEFAULT_MAX_PARK_US


def command_client_factory(config: ClientConfig, resend_after_s: float = 3.0) -> TransportFactory:
    """Transports that are real cluster sessions (Aeron, through the JVM)."""

    def make(on_event: Any, on_session_change: Any, ids: CorrelationIds) -> Transport:
        return CommandClient(
            config,
            ids.gateway_id,
            on_event=on_event,
            on_session_change=on_session_change,
            correlation_ids=ids,
            resend_after_s=resend_after_s,
        )

    return make


def gateway_client_config(
    endpoints: str,
    credentials: bytes | None,
    aeron_dir: str | None = None,
    idle_max_park_us: int = DEFAULT_MAX_PARK_US,
) -> ClientConfig:
    """A gateway's session with the cluster at ``endpoints`` (``0=host:port,...``).

    Without ``aeron_dir`` the gateway launches a media driver of its own and reaches the cluster over
    UDP, from any host. With the folder of a running driver on this host (a node's ``--aeron-dir``) it
    shares that driver instead, as Aeron deployments do, one driver per host: a driver's threads
    fewer (docs/operations.md has the figures). When the cluster is that one node, commands and
    answers then go over IPC (shared memory, no UDP); with several members, over UDP through the
    shared driver, so that a session can follow the leader elsewhere. The gateway then lives with
    that driver: if its node stops, the session is lost until the node is back (the core reconnects
    on its own)."""
    if aeron_dir is None:
        return ClientConfig(endpoints, credentials=credentials, idle_max_park_us=idle_max_park_us)
    if "," not in endpoints.strip(","):
        return ClientConfig(
            None,
            aeron_dir=aeron_dir,
            ingress_channel="aeron:ipc",
            egress_channel="aeron:ipc",
            credentials=credentials,
            idle_max_park_us=idle_max_park_us,
        )
    return ClientConfig(
        endpoints, aeron_dir=aeron_dir, credentials=credentials, idle_max_park_us=idle_max_park_us
    )


def embedded_client_config(aeron_dir: str, idle_max_park_us: int = DEFAULT_MAX_PARK_US) -> ClientConfig:
    """A session over IPC with a node in this process (its media driver's directory); pass the node's
    ``idle_max_park_us`` so that the session waits for egress as briskly as the node's agents."""
    return ClientConfig(
        ingress_endpoints=None,
        aeron_dir=aeron_dir,
        ingress_channel="aeron:ipc",
        egress_channel="aeron:ipc",
        idle_max_park_us=idle_max_park_us,
    )
