"""A Python client of Aeron Cluster: Aeron's own ``AeronCluster`` driven from a Python thread.

The client is single-threaded by contract: the thread that calls :meth:`ClusterClient.offer` also
calls :meth:`ClusterClient.poll`, and egress frames reach ``on_frame`` on that thread, so every
callback from Java into Python comes from a Python-created thread (the fast, leak-free case).
Frames handed to ``on_frame`` are views of a buffer reused for the next frame: copy what you keep.
Egress reaches Python through a small Java bridge (gateway/jvm) that calls without arguments; see
rfq.cluster.host for why.

With no ``aeron_dir`` the client launches its own embedded media driver (a gateway in another
process than the cluster); with one, it shares that driver (e.g. the embedded node's).
"""

from __future__ import annotations

import itertools
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jpype

from rfq import jvm
from rfq.buffers import SharedBuffer

FrameHandler = Callable[[memoryview], None]
NewLeaderHandler = Callable[[int], None]

MAX_FRAME = 64 * 1024
_ARGS = struct.Struct("<qqq")
"""Arguments of the bridge's calls: see gateway/jvm/rfq/client/PythonEgress.java."""
_SHM = Path("/dev/shm")
_instance_ids = itertools.count()


class ClusterClientError(RuntimeError):
    """The client could not connect, or was used after close."""


@dataclass(frozen=True)
class ClientConfig:
    """How to reach a cluster."""

    ingress_endpoints: str | None
    """``0=host:port,1=host:port`` — see :meth:`rfq.topology.Topology.ingress_endpoints`; None with
    an ``aeron:ipc`` ingress channel (a client in the node's own process)."""
    aeron_dir: str | None = None
    """A running media driver to share; None launches an embedded one for this client."""
    ingress_channel: str = "aeron:udp?term-length=1m"
    egress_channel: str = "aeron:udp?endpoint=localhost:0|term-length=1m"
    """Small terms: a session's frames are small, and each term is mapped three times over."""
    message_timeout_ms: int = 10_000
    new_leader_timeout_ms: int = 10_000
    """How long the session waits for a new leader once it has lost the old one, before it closes (and
    ``CommandClient`` opens another, which costs seconds). Aeron's default is twice the cluster's
    leader heartbeat timeout (2 s with the tuned 1 s), shorter than an election that must wait for a
    restarting member: measured, a session closed then and the failover took 10 s instead of 3."""
    credentials: bytes | None = None
    """Sent to the cluster's authenticator when the session opens."""
    idle_max_park_us: int = jvm.DEFAULT_MAX_PARK_US
    """The longest the polling thread's wait for egress and the embedded media driver's idle agent
    park (:func:`rfq.jvm.idle_strategy`); a shared driver (``aeron_dir``) keeps its own."""


class ClusterClient:
    """One cluster session: offer frames to the cluster, poll frames from it."""

    def __init__(
        self,
        config: ClientConfig,
        on_frame: FrameHandler,
        on_new_leader: NewLeaderHandler | None = None,
    ) -> None:
        self.config = config
        self._on_frame = on_frame
        self._on_new_leader = on_new_leader
        self._driver: Any = None
        self._driver_dir: Path | None = None
        self._cluster: Any = None
        self._ingress: SharedBuffer | None = None
        self._egress: SharedBuffer | None = None
        self._listener: Any = None
        self._args: SharedBuffer | None = None
        self._waiter: Any = None

    # --- lifecycle ----------------------------------------------------------------------------
    def connect(self) -> ClusterClient:
        """Open the session (blocks until the cluster answers or the message timeout passes)."""
        jvm.start()
        self._ingress = SharedBuffer(MAX_FRAME)
        self._egress = SharedBuffer(MAX_FRAME)
        self._args = SharedBuffer(_ARGS.size)
        self._listener = jvm.jclass("rfq.client.EgressBridge")(
            jpype.JProxy("rfq.client.PythonEgress", inst=_Egress(self)),
            self._egress.byte_buffer,
            self._args.byte_buffer,
        )
        self._waiter = jvm.jclass("rfq.client.EgressWaiter")(jvm.idle_strategy(self.config.idle_max_park_us))
        aeron_dir = self.config.aeron_dir or self._launch_driver()
        ctx = (
            jvm.jclass("io.aeron.cluster.client.AeronCluster$Context")()
            .aeronDirectoryName(aeron_dir)
            .ingressChannel(self.config.ingress_channel)
            .egressChannel(self.config.egress_channel)
            .messageTimeoutNs(self.config.message_timeout_ms * 1_000_000)
            .newLeaderTimeoutNs(self.config.new_leader_timeout_ms * 1_000_000)
            .egressListener(self._listener)
            # Aeron's default exits the JVM when the driver stops answering (a shared one whose node
            # stopped): close the session instead, and let the owner connect again
            .errorHandler(jvm.jclass("rfq.client.SurvivingErrorHandler")())
        )
        if self.config.ingress_endpoints is not None:
            ctx.ingressEndpoints(self.config.ingress_endpoints)
        if self.config.credentials is not None:
            encoded = jpype.JArray(jpype.JByte)(self.config.credentials)
            ctx.credentialsSupplier(
                jpype.JProxy(
                    "io.aeron.security.CredentialsSupplier",
                    dict={"encodedCredentials": lambda: encoded, "onChallenge": lambda _challenge: encoded},
                )
            )
        try:
            self._cluster = jvm.jclass("io.aeron.cluster.client.AeronCluster").connect(ctx)
        except Exception as error:
            self.close()
            raise ClusterClientError(f"cannot connect to {self.config.ingress_endpoints}: {error}") from error
        return self

    def close(self) -> None:
        """Close the session and any media driver this client launched. Idempotent."""
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()
        if self._driver_dir is not None:
            shutil.rmtree(self._driver_dir, ignore_errors=True)
            self._driver_dir = None

    def __enter__(self) -> ClusterClient:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- traffic ------------------------------------------------------------------------------
    def offer(self, frame: bytes | bytearray | memoryview) -> bool:
        """Offer one frame to the cluster; False when back pressured or between leaders (retry)."""
        if self._cluster is None or self._ingress is None:
            raise ClusterClientError("the client is not connected")
        length = len(frame)
        self._ingress.view[:length] = frame
        return int(self._cluster.offer(self._ingress.unsafe, 0, length)) > 0

    def poll(self) -> int:
        """Deliver waiting egress frames (up to Aeron's 10) to ``on_frame``; return how many were read."""
        if self._cluster is None:
            raise ClusterClientError("the client is not connected")
        return int(self._cluster.pollEgress())

    def wait(self, timeout_s: float) -> int:
        """Poll egress until a frame arrives (delivered to ``on_frame``), :meth:`wake` is called, the
        session closes, or ``timeout_s`` passes; return the frames delivered. The thread idles in Java
        meanwhile (rfq.client.EgressWaiter: why), holding no GIL."""
        if self._cluster is None:
            raise ClusterClientError("the client is not connected")
        return int(self._waiter.awaitEgress(self._cluster, int(timeout_s * 1e9)))

    def wake(self) -> None:
        """End the polling thread's current or next :meth:`wait` early; any thread may call it."""
        waiter = self._waiter
        if waiter is not None:
            waiter.wake()

    def send_keep_alive(self) -> bool:
        """Tell the cluster this idle session is alive (sessions time out otherwise)."""
        return bool(self._cluster is not None and self._cluster.sendKeepAlive())

    @property
    def is_closed(self) -> bool:
        """True when not connected, or when Aeron closed the session (e.g. no leader for too long) or
        its client (the media driver stopped answering: see rfq.client.SurvivingErrorHandler)."""
        return self._cluster is None or bool(self._waiter.isClosed(self._cluster))

    @property
    def session_id(self) -> int:
        """The cluster session id of this connection."""
        if self._cluster is None:
            raise ClusterClientError("the client is not connected")
        return int(self._cluster.clusterSessionId())

    @property
    def leader_member_id(self) -> int:
        """The member this client believes leads the cluster."""
        if self._cluster is None:
            raise ClusterClientError("the client is not connected")
        return int(self._cluster.leaderMemberId())

    # --- internals ----------------------------------------------------------------------------
    def _launch_driver(self) -> str:
        parent = _SHM if _SHM.is_dir() else Path(tempfile.gettempdir())
        self._driver_dir = parent / f"rfq-client-{os.getpid()}-{next(_instance_ids)}"
        ctx = (
            jvm.jclass("io.aeron.driver.MediaDriver$Context")()
            .aeronDirectoryName(str(self._driver_dir))
            .threadingMode(jvm.jclass("io.aeron.driver.ThreadingMode").SHARED)
            .sharedIdleStrategy(jvm.idle_strategy(self.config.idle_max_park_us))
            .dirDeleteOnStart(True)
            .dirDeleteOnShutdown(True)
            .termBufferSparseFile(True)
        )
        self._driver = jvm.jclass("io.aeron.driver.MediaDriver").launchEmbedded(ctx)
        return str(self._driver_dir)

    def _deliver(self) -> None:
        assert self._egress is not None and self._args is not None
        length = _ARGS.unpack_from(self._args.view)[2]
        self._on_frame(self._egress.view[:length])

    def _new_leader(self) -> None:
        if self._on_new_leader is not None and self._args is not None:
            self._on_new_leader(_ARGS.unpack_from(self._args.view)[0])


class _Egress:
    """Implements the Java ``rfq.client.PythonEgress``: argument-free calls from the EgressBridge."""

    def __init__(self, client: ClusterClient) -> None:
        self._client = client

    def onFrame(self) -> None:  # noqa: N802
        self._client._deliver()

    def onNewLeader(self) -> None:  # noqa: N802
        self._client._new_leader()
