"""A node's own account of itself over HTTP: ``GET /status`` (JSON), ``GET /metrics`` (Prometheus text),
``POST /snapshot`` (ask the cluster for a snapshot; the leader acts on it).

Why: an operator (``rfq cluster status``), a test or Prometheus must learn every member's role, term,
positions and snapshot digests without starting a JVM of its own or touching the node's files.

Where the numbers come from: the counters of this node's consensus module (role, commit position,
leadership term, elections, snapshots, module state), read through the Counter objects of its
context: the very values AeronStat reads from the node's CnC file; the hosted service's log position
(``Cluster.logPosition``); and, for :class:`rfq.cluster.service.RfqService`, its snapshot digests and
:class:`rfq.cluster.metrics.ServiceStats`.

Threads: one Python thread serves requests one at a time and, between them, samples the counters every
``sample_interval_s`` (logging every change of role and of leadership term). It only ever *calls* the
JVM (no callback from Java lands here), and it is the one extra thread that does: a thread-per-request
server would attach a new JVM thread per request. It detaches from the JVM when it ends, and it must
be stopped before the node closes (the counters are unmapped then): use :func:`serve_status` inside
the node's ``with``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rfq import jvm
from rfq.cluster.metrics import ServiceStats, service_families
from rfq.cluster.node import TIMEOUT_FIELDS, EmbeddedNode

log = logging.getLogger(__name__)

ROLES = ("follower", "candidate", "leader")
"""Aeron's ``Cluster.Role`` codes 0, 1, 2."""
RECENT_SNAPSHOTS = 16
"""How many of its latest snapshot digests a member reports (replicas are compared position by position)."""


@dataclass(frozen=True)
class NodeSample:
    """The node's counters at one moment."""

    role: str
    leadership_term_id: int
    commit_position: int
    log_position: int
    """How far the service has applied the log (-1 before it started)."""
    module_state: str
    election: str
    """Aeron's election state: ``CLOSED`` when none is under way (a new leader's role counter says
    ``leader`` before its election has closed and its term counter moved)."""
    elections: int
    """Elections this member's consensus module entered since it started."""
    snapshots_taken: int
    """Snapshots this member's consensus module took since it started."""
    timed_out_clients: int


class NodeProbe:
    """Reads a running :class:`EmbeddedNode`'s counters; asks its consensus module for a snapshot."""

    def __init__(self, node: EmbeddedNode) -> None:
        context = node.consensus_context
        if context is None:
            raise RuntimeError("the node is not running")
        self._role = context.clusterNodeRoleCounter()
        self._commit = context.commitPositionCounter()
        self._term = context.leadershipTermIdCounter()
        self._elections = context.electionCounter()
        self._election = context.electionStateCounter()
        self._election_states = jvm.jclass("io.aeron.cluster.ElectionState")
        self._snapshots = context.snapshotCounter()
        self._module_state = context.moduleStateCounter()
        self._timed_out = context.timedOutClientCounter()
        self._toggle = context.controlToggleCounter()
        self._states = jvm.jclass("io.aeron.cluster.ConsensusModule$State")
        self._toggles = jvm.jclass("io.aeron.cluster.ClusterControl$ToggleState")
        self._host = node.host

    def sample(self) -> NodeSample:
        role = int(self._role.get())
        cluster = None if self._host is None else self._host.java.cluster()
        return NodeSample(
            role=ROLES[role] if 0 <= role < len(ROLES) else f"unknown({role})",
            leadership_term_id=int(self._term.get()),
            commit_position=int(self._commit.get()),
            log_position=-1 if cluster is None else int(cluster.logPosition()),
            module_state=str(self._states.get(self._module_state)),
            election=str(self._election_states.get(self._election)),
            elections=int(self._elections.get()),
            snapshots_taken=int(self._snapshots.get()),
            timed_out_clients=int(self._timed_out.get()),
        )

    def request_snapshot(self) -> str | None:
        """Set the control toggle to SNAPSHOT. None when it was set; otherwise the toggle's state:
        ``INACTIVE`` while a new leader has not completed its election (the consensus module
        activates the toggle then), another action's name while that action is pending."""
        if self._toggles.SNAPSHOT.toggle(self._toggle):
            return None
        return str(self._toggles.get(self._toggle))

    @property
    def service_errors(self) -> int:
        return 0 if self._host is None else self._host.service_errors

    @property
    def failed_offers(self) -> int:
        return 0 if self._host is None else self._host.failed_offers


class StatusServer:
    """The status endpoint of one node: start after the node, stop before it closes."""

    def __init__(
        self, node: EmbeddedNode, host: str = "127.0.0.1", port: int = 0, sample_interval_s: float = 0.1
    ) -> None:
        self.node = node
        self.probe = NodeProbe(node)
        self.sample_interval_s = sample_interval_s
        self.started_at = time.monotonic()
        self.leader_changes = 0
        """Changes of leadership term this server saw after the first one it knew."""
        self.last = self.probe.sample()
        self._sampled_at = time.monotonic()
        self._log_changes(None, self.last)
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_NodeCollector(self))
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> StatusServer:
        self._thread = threading.Thread(
            target=self._run, name=f"rfq-status-{self.node.config.member_id}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and sampling; waits for the thread. Idempotent."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._server.shutdown()
            thread.join(10.0)
        self._server.server_close()

    def __enter__(self) -> StatusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- on the server thread -----------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._server.serve_forever(poll_interval=self.sample_interval_s)
        finally:
            jvm.jclass("java.lang.Thread").detach()

    def refresh(self, max_age_s: float = 0.0) -> NodeSample:
        """Sample the counters unless the last sample is younger than ``max_age_s``."""
        now = time.monotonic()
        if now - self._sampled_at >= max_age_s:
            sample = self.probe.sample()
            previous, self.last, self._sampled_at = self.last, sample, now
            self._log_changes(previous, sample)
        return self.last

    def _log_changes(self, previous: NodeSample | None, sample: NodeSample) -> None:
        member = self.node.config.member_id
        term_changed = previous is not None and sample.leadership_term_id != previous.leadership_term_id
        if term_changed and previous is not None and previous.leadership_term_id >= 0:
            self.leader_changes += 1
        if previous is None or term_changed or sample.role != previous.role:
            log.info(
                "member %d is %s in leadership term %d",
                member,
                sample.role,
                sample.leadership_term_id,
                extra={
                    "event": "leader_change" if term_changed else "role_change",
                    "member_id": member,
                    "role": sample.role,
                    "leadership_term_id": sample.leadership_term_id,
                    "log_position": sample.log_position,
                },
            )

    def status(self) -> dict[str, Any]:
        """The ``/status`` document (see docs/operations.md)."""
        sample = self.refresh()
        service = self.node.service
        digests: list[tuple[int, str]] = list(getattr(service, "digests", ())[-RECENT_SNAPSHOTS:])
        snapshots = [{"log_position": position, "digest": digest} for position, digest in digests]
        config = self.node.config
        stats = getattr(service, "stats", None)
        return {
            "member_id": config.member_id,
            "cluster_size": config.topology.size,
            "service": type(service).__name__,
            **asdict(sample),
            "leader_changes": self.leader_changes,
            "snapshot": snapshots[-1] if snapshots else None,
            "snapshots": snapshots,
            "commands": sum(stats.commands) if isinstance(stats, ServiceStats) else None,
            "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self.started_at, 3),
            "timeouts_ms": {name.removesuffix("_ms"): getattr(config, name) for name in TIMEOUT_FIELDS},
        }

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        """``POST /snapshot``: (HTTP status, body). Only the leader takes the request."""
        sample = self.refresh()
        body: dict[str, Any] = {
            "member_id": self.node.config.member_id,
            "role": sample.role,
            "module_state": sample.module_state,
            "snapshots_taken": sample.snapshots_taken,
            "log_position": sample.log_position,
        }
        if sample.role != "leader":
            return 409, {**body, "error": "not the leader: ask the leader"}
        if sample.module_state != "ACTIVE":
            return 409, {**body, "error": f"the consensus module is {sample.module_state}"}
        refused = self.probe.request_snapshot()
        if refused == "INACTIVE":
            # the role counter says leader a moment before the election completes: ask again soon
            return 503, {**body, "error": "the leader has not completed its election yet: retry"}
        if refused is not None:
            return 409, {**body, "error": f"another cluster action is pending ({refused})"}
        log.info(
            "snapshot requested", extra={"event": "snapshot_requested", "log_position": sample.log_position}
        )
        return 202, {**body, "requested": True}


class _Server(HTTPServer):
    def __init__(self, address: tuple[str, int], owner: StatusServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that gave up (closed its socket) before the answer is not the node's problem
        log.debug("status endpoint: a request from %s failed", client_address, exc_info=True)

    def service_actions(self) -> None:
        # called by serve_forever between requests, at least every poll interval
        try:
            self.owner.refresh(self.owner.sample_interval_s)
        except Exception:
            log.exception("sampling the node's counters failed")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5.0
    """A client that stalls mid-request cannot hold the one serving thread longer than this."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        owner = self.server.owner
        if path == "/status":
            self._send(200, "application/json", json.dumps(owner.status()).encode())
        elif path == "/metrics":
            owner.refresh()
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(owner.registry))
        elif path == "/healthz":
            self._send(200, "text/plain", b"ok\n")
        else:
            self._send(404, "application/json", b'{"error": "no such resource"}')

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/snapshot":
            self._send(404, "application/json", b'{"error": "no such resource"}')
            return
        status, body = self.server.owner.snapshot()
        retry_after = {"Retry-After": "1"} if status == 503 else {}
        self._send(status, "application/json", json.dumps(body).encode(), retry_after)

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("status endpoint: " + format, *args)


class _NodeCollector(Collector):
    """Prometheus families of the node, from its last sample and its service's stats."""

    def __init__(self, owner: StatusServer) -> None:
        self._owner = owner

    def collect(self) -> Iterator[Metric]:
        owner = self._owner
        sample = owner.last
        role = ROLES.index(sample.role) if sample.role in ROLES else -1
        gauges = {
            "rfq_node_role": ("Role: 0 follower, 1 candidate, 2 leader", role),
            "rfq_node_is_leader": ("1 on the leader", float(sample.role == "leader")),
            "rfq_node_leadership_term_id": (
                "The leadership term this member is in",
                sample.leadership_term_id,
            ),
            "rfq_node_commit_position": (
                "The cluster's commit position as this member knows it",
                sample.commit_position,
            ),
            "rfq_node_log_position": ("How far the service has applied the log", sample.log_position),
        }
        for name, (text, value) in gauges.items():
            yield GaugeMetricFamily(name, text, value=float(value))
        counters = {
            "rfq_node_elections": ("Elections this member entered since it started", sample.elections),
            "rfq_node_leader_changes": ("Leadership term changes seen since the first", owner.leader_changes),
            "rfq_node_snapshots": ("Snapshots this member's consensus module took", sample.snapshots_taken),
            "rfq_node_timed_out_clients": ("Client sessions closed by timeout", sample.timed_out_clients),
            "rfq_node_service_errors": ("Exceptions the hosted service raised", owner.probe.service_errors),
            "rfq_node_failed_offers": ("Replies Aeron refused after retries", owner.probe.failed_offers),
        }
        for name, (text, value) in counters.items():
            yield CounterMetricFamily(name, text, value=float(value))
        stats = getattr(owner.node.service, "stats", None)
        if isinstance(stats, ServiceStats):
            yield from service_families(stats)


@contextlib.contextmanager
def serve_status(
    node: EmbeddedNode, host: str = "127.0.0.1", port: int | None = 0
) -> Iterator[StatusServer | None]:
    """Serve ``node``'s status on ``host:port`` (0: any free port) while the block runs; ``port``
    None serves nothing (the block gets None)."""
    if port is None:
        yield None
        return
    with StatusServer(node, host, port) as server:
        log.info("status endpoint on %s", server.url, extra={"event": "status_endpoint", "url": server.url})
        yield server
