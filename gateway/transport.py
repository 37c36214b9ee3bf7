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
