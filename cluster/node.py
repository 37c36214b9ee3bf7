"""A cluster node hosted in this Python process: media driver, archive, consensus module and service.

The contexts are built explicitly here (as Aeron's own samples do) rather than from system
properties, so that one Python process can start and stop nodes repeatedly and leave nothing behind:
the Aeron directory goes under /dev/shm and is deleted on close; the cluster and archive directories
go under ``NodeConfig.base_dir`` or, when none is given, a temporary folder deleted on close.

The service container is the only agent that calls into Python, so only it runs on Python-created
threads (:class:`rfq.jvm.PythonThreadFactory`); the driver, archive and consensus module keep their
JVM threads. Two cores are the target machine: every agent shares a thread where Aeron allows it and
idles with a backoff strategy instead of spinning.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jpype

from rfq import jvm
from rfq.cluster.host import HostedService, ServiceHost
from rfq.topology import ARCHIVE_CONTROL_OFFSET, Topology

_SHM = Path("/dev/shm")
_ACTIVE_MARK_FILE = "active mark file detected"
_instance_ids = itertools.count()
TIMEOUT_FIELDS = (
    "leader_heartbeat_timeout_ms",
    "leader_heartbeat_interval_ms",
    "election_timeout_ms",
    "election_status_interval_ms",
    "startup_canvass_timeout_ms",
    "session_timeout_ms",
)
"""The :class:`NodeConfig` fields that tune failover (``rfq node`` has an option for each)."""
TIMER_SERVICES = {
    "priority-heap": "io.aeron.cluster.PriorityHeapTimerServiceSupplier",
    "wheel": "io.aeron.cluster.WheelTimerServiceSupplier",
}
"""The consensus module's timer services (:attr:`NodeConfig.timer_service`), by name."""
_MS = 1_000_000


@dataclass(frozen=True)
class NodeConfig:
    """What one node needs to know; defaults give a single loopback node in throwaway folders."""

    topology: Topology = field(default_factory=Topology)
    member_id: int = 0
    base_dir: Path | None = None
    """Cluster and archive folders; None means a temporary folder deleted on close."""
    aeron_dir: Path | None = None
    """The media driver's folder; None means a fresh one under /dev/shm deleted on close."""
    fresh_start: bool = False
    """Delete any earlier log, archive and snapshots found in ``base_dir`` before starting."""
    log_term_length: str = "4m"
    """Term length of the replicated log; 4m keeps the mapped log small (Aeron maps three terms)."""
    # --- failover: measured on 2 cores (bench/failover.py, docs/operations.md); every member of a
    # cluster must use the same values. A crashed leader is replaced after about
    #   leader_heartbeat_timeout + U(0, election_timeout / 2) + election_timeout (+ ~0.1 s)
    leader_heartbeat_timeout_ms: int = 1_000
    """How long a follower hears nothing from the leader before it starts an election: the largest
    share of every failover. Too short, and a leader that merely stalls (a GC pause, a starved CPU, a
    congested network) is deposed for nothing; keep it many heartbeat intervals above the longest stall
    this deployment can have."""
    leader_heartbeat_interval_ms: int = 100
    """How often an idle leader tells followers that it lives. Smaller detects nothing sooner but makes
    the timeout tolerate more lost heartbeats (timeout / interval of them), for a few tiny messages."""
    election_timeout_ms: int = 300
    """How long a candidate waits for votes (with a member dead, every ballot waits this long), and
    twice the bound of the random delay before nominating (which keeps two followers from splitting
    the vote). Shorter is a faster failover, until votes cannot cross the network in time."""
    election_status_interval_ms: int = 50
    """How often members in an election tell each other their log positions (canvass): the time a
    follower may wait to learn that a quorum can elect."""
    startup_canvass_timeout_ms: int = 60_000
    """At start-up, how long a member waits for every other member before electing with a mere quorum
    (Aeron requires at least twice the heartbeat timeout): a cluster started with a member missing is
    unavailable this long."""
    session_timeout_ms: int = 10_000
    """A client session silent this long is closed (gateways send keep-alives every second). Long
    enough to outlive a failover; shorter frees a dead gateway's session sooner."""
    idle_max_park_us: int = jvm.DEFAULT_MAX_PARK_US
    """The longest an idle agent of this node (driver, archive, consensus module, service) parks
    (:func:`rfq.jvm.idle_strategy`): shorter answers sooner after a silence, for more idle CPU."""
    timer_service: str = "priority-heap"
    """How the consensus module keeps the RFQs' expiry timers: ``priority-heap`` (Aeron's
    ``PriorityHeapTimerService``) or ``wheel`` (``WheelTimerService``, Aeron's default). The wheel
    gives every tick's spoke as many slots as the fullest spoke needs and scans the current spoke on
    every duty cycle, so RFQs sharing one expiry (a batch expiring at the same time, the close of
    day) cost CPU while they wait: 20,000 of them kept an idle consensus module at 0.23 of a core on
    the 2-core machine, against 0.05 with the heap (``make bench-timers``), and 27,000 under bench-fix's
    load at 0.5. The heap looks only at its earliest deadline. Either fires a timer through the log, so
    members may differ."""
    stale_mark_file_wait_s: float = 20.0
    """How long a restart waits for a crashed predecessor's mark files to go stale."""
    cluster_secret: bytes | None = None
    """Clients must present this secret to open a session; None admits every client (embedded use)."""

    def __post_init__(self) -> None:
        if not 0 <= self.member_id < self.topology.size:
            raise ValueError(f"member id {self.member_id} is not in a {self.topology.size}-member cluster")
        timeouts = {name: getattr(self, name) for name in TIMEOUT_FIELDS}
        if self.idle_max_park_us <= 0:
            raise ValueError(f"the longest park must be positive, not {self.idle_max_park_us} µs")
        if self.timer_service not in TIMER_SERVICES:
            raise ValueError(f"timer service {self.timer_service!r} is none of {', '.join(TIMER_SERVICES)}")
        if any(value <= 0 for value in timeouts.values()):
            raise ValueError(f"timeouts and intervals must be positive: {timeouts}")
        if self.leader_heartbeat_interval_ms * 2 > self.leader_heartbeat_timeout_ms:
            raise ValueError("the leader heartbeat timeout must be at least twice its interval")
        if self.election_status_interval_ms > self.election_timeout_ms:
            raise ValueError("the election status interval must not exceed the election timeout")
        if self.startup_canvass_timeout_ms < 2 * self.leader_heartbeat_timeout_ms:
            raise ValueError("the startup canvass timeout must be at least twice the heartbeat timeout")

    @property
    def host(self) -> str:
        """The host name this member listens on."""
        return self.topology.hosts[self.member_id]


def _supplier(factory: Any) -> Any:
    """A ``java.util.function.Supplier``; only called while contexts conclude, on the launching thread."""
    return jpype.JProxy("java.util.function.Supplier", dict={"get": factory})


class EmbeddedNode:
    """One cluster member in this process, hosting ``service``: a :class:`HostedService` (Python) or
    any Java ``ClusteredService`` object (the reference services of the benchmarks).

    Use as a context manager, or call :meth:`start` and :meth:`close`. ``close`` stops the service,
    then the consensus module, archive and driver, waits for the service threads and deletes the
    folders this node created.
    """

    def __init__(self, config: NodeConfig, service: Any) -> None:
        self.config = config
        self.service = service
        self._owns_base_dir = config.base_dir is None
        self.base_dir = (
            Path(tempfile.mkdtemp(prefix="rfq-node-")) if config.base_dir is None else config.base_dir
        )
        self.aeron_dir = config.aeron_dir or (
            (_SHM if _SHM.is_dir() else Path(tempfile.gettempdir()))
            / f"rfq-aeron-{config.member_id}-{os.getpid()}-{next(_instance_ids)}"
        )
        self.host: ServiceHost | None = None
        self.terminated = threading.Event()
        """Set when the cluster itself ends this node (an operator's ClusterTool shutdown or abort)."""
        self._thread_factory: jvm.PythonThreadFactory | None = None
        self._driver: Any = None
        self._container: Any = None

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> EmbeddedNode:
        """Launch the driver, archive and consensus module, then the service container.

        A member restarted right after a crash finds its predecessor's mark files still "active"
        (Aeron treats them so for ~10 s); it waits up to ``stale_mark_file_wait_s`` for them to go
        stale rather than fail, as a supervisor restarting it at once would want.
        """
        jvm.start()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.config.stale_mark_file_wait_s
        while True:
            try:
                self._launch()
                return self
            except Exception as error:
                self._stop()
                if _ACTIVE_MARK_FILE not in str(error) or time.monotonic() >= deadline:
                    self.close()
                    raise
                time.sleep(1.0)
            except BaseException:
                self.close()
                raise

    def _launch(self) -> None:
        driver_ctx, archive_ctx, consensus_ctx, service_ctx = self._contexts()
        self._driver = jvm.jclass("io.aeron.cluster.ClusteredMediaDriver").launch(
            driver_ctx, archive_ctx, consensus_ctx
        )
        self._container = jvm.jclass("io.aeron.cluster.service.ClusteredServiceContainer").launch(service_ctx)

    def close(self) -> None:
        """Stop everything this node started and delete the folders it created. Idempotent."""
        self._stop()
        if self.aeron_dir.exists() and self.config.aeron_dir is None:
            shutil.rmtree(self.aeron_dir, ignore_errors=True)
        if self._owns_base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def _stop(self) -> None:
        container, self._container = self._container, None
        driver, self._driver = self._driver, None
        if container is not None:
            container.close()
        if self._thread_factory is not None:
            alive = self._thread_factory.join()
            if alive:
                raise RuntimeError(f"service threads did not stop: {alive}")
        if driver is not None:
            driver.close()

    def __enter__(self) -> EmbeddedNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def consensus_context(self) -> Any:
        """The running consensus module's context (its counters: role, commit position, elections,
        leadership term, snapshots, control toggle); None when the node is not running."""
        driver = self._driver
        return None if driver is None else driver.consensusModule().context()

    # --- what a client needs ------------------------------------------------------------------
    @property
    def ingress_endpoints(self) -> str:
        """The client ``ingressEndpoints`` for this node's cluster."""
        return self.config.topology.ingress_endpoints()

    @property
    def aeron_directory_name(self) -> str:
        """The media driver folder, which an in-process client may share."""
        return str(self.aeron_dir)

    # --- contexts -----------------------------------------------------------------------------
    def _contexts(self) -> tuple[Any, Any, Any, Any]:
        cfg = self.config
        host = cfg.host
        aeron_dir = str(self.aeron_dir)
        cluster_dir = jvm.jclass("java.io.File")(str(self.base_dir / "cluster"))
        idle = functools.partial(jvm.idle_strategy, cfg.idle_max_park_us)
        archive_dir = jvm.jclass("java.io.File")(str(self.base_dir / "archive"))

        driver_ctx = (
            jvm.jclass("io.aeron.driver.MediaDriver$Context")()
            .aeronDirectoryName(aeron_dir)
            .threadingMode(jvm.jclass("io.aeron.driver.ThreadingMode").SHARED)
            .sharedIdleStrategy(idle())
            .dirDeleteOnStart(True)
            .dirDeleteOnShutdown(True)
            .termBufferSparseFile(True)
            .spiesSimulateConnection(True)
        )

        archive_ctx = (
            jvm.jclass("io.aeron.archive.Archive$Context")()
            .aeronDirectoryName(aeron_dir)
            .archiveDir(archive_dir)
            .deleteArchiveOnStart(cfg.fresh_start)
            .controlChannel(
                f"aeron:udp?endpoint={cfg.topology.endpoint(cfg.member_id, ARCHIVE_CONTROL_OFFSET)}"
            )
            .localControlChannel("aeron:ipc?term-length=64k")
            .replicationChannel(f"aeron:udp?endpoint={host}:0")
            .recordingEventsEnabled(False)
            .threadingMode(jvm.jclass("io.aeron.archive.ArchiveThreadingMode").SHARED)
            .idleStrategySupplier(_supplier(idle))
            .archiveClientContext(
                jvm.jclass("io.aeron.archive.client.AeronArchive$Context")().controlResponseChannel(
                    f"aeron:udp?endpoint={host}:0"
                )
            )
        )

        local_archive = (
            jvm.jclass("io.aeron.archive.client.AeronArchive$Context")()
            .lock(jvm.jclass("org.agrona.concurrent.NoOpLock").INSTANCE)
            .controlRequestChannel(archive_ctx.localControlChannel())
            .controlRequestStreamId(archive_ctx.localControlStreamId())
            .controlResponseChannel(archive_ctx.localControlChannel())
            .aeronDirectoryName(aeron_dir)
        )

        single = cfg.topology.size == 1
        log_channel = (
            f"aeron:ipc?term-length={cfg.log_term_length}"
            if single
            else f"aeron:udp?term-length={cfg.log_term_length}"
        )
        consensus_ctx = (
            jvm.jclass("io.aeron.cluster.ConsensusModule$Context")()
            .aeronDirectoryName(aeron_dir)
            .clusterMemberId(cfg.member_id)
            .clusterMembers(cfg.topology.cluster_members())
            .clusterDir(cluster_dir)
            .deleteDirOnStart(cfg.fresh_start)
            .archiveContext(local_archive.clone())
            .serviceCount(1)
            .logChannel(log_channel)
            .ingressChannel("aeron:udp")
            .isIpcIngressAllowed(True)
            .replicationChannel(f"aeron:udp?endpoint={host}:0")
            .leaderHeartbeatTimeoutNs(cfg.leader_heartbeat_timeout_ms * _MS)
            .leaderHeartbeatIntervalNs(cfg.leader_heartbeat_interval_ms * _MS)
            .electionTimeoutNs(cfg.election_timeout_ms * _MS)
            .electionStatusIntervalNs(cfg.election_status_interval_ms * _MS)
            .startupCanvassTimeoutNs(cfg.startup_canvass_timeout_ms * _MS)
            .sessionTimeoutNs(cfg.session_timeout_ms * _MS)
            .idleStrategySupplier(_supplier(idle))
        )
        if cfg.timer_service == "priority-heap":  # the wheel is Aeron's default, tuned by its properties
            consensus_ctx.timerServiceSupplier(jvm.jclass(TIMER_SERVICES["priority-heap"])())
        # called on an Aeron thread, once, when the cluster terminates this node
        termination_hook = jpype.JProxy("java.lang.Runnable", dict={"run": self.terminated.set})
        consensus_ctx.terminationHook(termination_hook)
        if cfg.cluster_secret is not None:
            consensus_ctx.authenticatorSupplier(
                jvm.jclass("rfq.host.SharedSecretAuthenticator").supplier(
                    jpype.JArray(jpype.JByte)(cfg.cluster_secret)
                )
            )

        if isinstance(self.service, HostedService):
            self.host = ServiceHost(self.service)
            service_object = self.host.java
        else:
            service_object = self.service
        service_ctx = (
            jvm.jclass("io.aeron.cluster.service.ClusteredServiceContainer$Context")()
            .aeronDirectoryName(aeron_dir)
            .archiveContext(local_archive.clone())
            .clusterDir(cluster_dir)
            .clusteredService(service_object)
            .serviceId(0)
            .idleStrategySupplier(_supplier(idle))
            .terminationHook(termination_hook)
        )
        if self.host is not None:  # a Python service: its agent must run on Python threads
            self._thread_factory = jvm.PythonThreadFactory(f"rfq-service-{cfg.member_id}")
            service_ctx.threadFactory(self._thread_factory.proxy)
        return driver_ctx, archive_ctx, consensus_ctx, service_ctx
