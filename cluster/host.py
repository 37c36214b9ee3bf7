"""Hosting a Python service in Aeron Cluster with one argument-free call per event.

The Java side is ``rfq.host.ServiceHost`` (cluster/jvm): Aeron calls it as any ClusteredService; it
copies each log message into an inbound buffer shared with Python, the message's session id,
timestamp and length into an ``args`` buffer, and calls :class:`HostedService` with no arguments.
The service answers by writing *action records* (replies, broadcasts, timer requests) through
:class:`Actions` into an outbound buffer that the host carries out after Python returns.

Measured reasons: every Java object handed to Python and every Python call into Java costs
microseconds, and a message would otherwise need half a dozen of them; and JPype 1.7.1 leaks ~32 bytes
per primitive argument of a Java → Python call (jpype-project/jpype#1379), none for a call without.

All hooks run on the service container's agent thread, which :class:`rfq.jvm.PythonThreadFactory`
makes a Python thread. Hooks must be deterministic: the same log gives the same actions everywhere.
"""

from __future__ import annotations

import struct
from typing import Any, Protocol

import jpype

from rfq import jvm
from rfq.buffers import SharedBuffer

HEADER = struct.Struct("<iiqq")
"""kind:int32 length:int32 arg0:int64 arg1:int64 — mirrors ServiceHost.HEADER_LENGTH."""
ARGS = struct.Struct("<qqq")
"""The arguments of the current call, written by the Java host — mirrors ServiceHost.ARGS_LENGTH."""
REPLY = 1
BROADCAST = 2
SCHEDULE_TIMER = 3
CANCEL_TIMER = 4

MAX_FRAME = 64 * 1024
OUTBOUND_CAPACITY = 1024 * 1024


class ActionOverflowError(RuntimeError):
    """The actions for one event do not fit the outbound buffer."""


class Encodable(Protocol):
    """Anything that encodes itself into a buffer at an offset and returns the length (our codecs)."""

    def encode(self, buffer: Any, offset: int = 0) -> int: ...


class Actions:
    """The effects of one event, written as records for the Java host to carry out in order."""

    __slots__ = ("_buffer", "_capacity", "position")

    def __init__(self, buffer: memoryview) -> None:
        self._buffer = buffer
        self._capacity = len(buffer)
        self.position = 0

    def reply(self, session_id: int, frame: bytes | bytearray | memoryview) -> None:
        """Send ``frame`` to one client session."""
        self._frame(REPLY, session_id, frame)

    def broadcast(self, frame: bytes | bytearray | memoryview) -> None:
        """Send ``frame`` to every open client session."""
        self._frame(BROADCAST, 0, frame)

    def reply_message(self, session_id: int, message: Encodable) -> None:
        """Encode ``message`` straight into the outbound buffer for one session."""
        self._message(REPLY, session_id, message)

    def broadcast_message(self, message: Encodable) -> None:
        """Encode ``message`` straight into the outbound buffer for every session."""
        self._message(BROADCAST, 0, message)

    def schedule_timer(self, correlation_id: int, deadline: int) -> None:
        """Ask the cluster for a timer; the same id replaces an earlier deadline."""
        self._header(SCHEDULE_TIMER, 0, correlation_id, deadline)

    def cancel_timer(self, correlation_id: int) -> None:
        """Cancel a timer if it is still pending."""
        self._header(CANCEL_TIMER, 0, correlation_id, 0)

    def _header(self, kind: int, length: int, arg0: int, arg1: int) -> int:
        start = self.position
        end = start + HEADER.size + ((length + 7) & ~7)
        if end > self._capacity:
            raise ActionOverflowError(f"actions need {end} bytes, the outbound buffer has {self._capacity}")
        HEADER.pack_into(self._buffer, start, kind, length, arg0, arg1)
        self.position = end
        return start + HEADER.size

    def _frame(self, kind: int, arg0: int, frame: bytes | bytearray | memoryview) -> None:
        length = len(frame)
        at = self._header(kind, length, arg0, 0)
        self._buffer[at : at + length] = frame

    def _message(self, kind: int, arg0: int, message: Encodable) -> None:
        start = self.position
        at = start + HEADER.size
        if at > self._capacity:
            raise ActionOverflowError(f"actions need {at} bytes, the outbound buffer has {self._capacity}")
        length = message.encode(self._buffer, at)
        self.position = start
        self._header(kind, length, arg0, 0)


class HostedService:
    """Override the ``on_*`` hooks of the service you host; every one has a harmless default."""

    def on_start(self, cluster: Any, snapshot_image: Any) -> None:
        """Starting; ``snapshot_image`` is None or the latest snapshot, to be read in full now."""

    def on_session_open(self, session_id: int, timestamp: int, actions: Actions) -> None:
        """A client session opened (replayed on followers and after a restart)."""

    def on_session_close(self, session_id: int, timestamp: int, actions: Actions) -> None:
        """A client session closed or timed out."""

    def on_message(self, session_id: int, timestamp: int, frame: memoryview, actions: Actions) -> None:
        """A message from the log; ``frame`` is valid only during this call."""

    def on_timer(self, correlation_id: int, timestamp: int, actions: Actions) -> None:
        """A timer asked for with :meth:`Actions.schedule_timer` fired."""

    def on_take_snapshot(self, publication: Any) -> None:
        """Write the whole state to ``publication`` (an Aeron ExclusivePublication)."""

    def on_role_change(self, role: int) -> None:
        """0 follower, 1 candidate, 2 leader (Aeron's Cluster.Role codes)."""

    def on_terminate(self) -> None:
        """The cluster is shutting this service down."""


class _Bridge:
    """Implements the Java ``rfq.host.PythonService`` interface for one HostedService.

    Every per-event method is argument-free: it reads the event's arguments from the shared ``args``
    buffer (JPype 1.7.1 leaks ~32 bytes per primitive argument of a proxy call).
    """

    def __init__(
        self, service: HostedService, inbound: memoryview, args: memoryview, actions: Actions
    ) -> None:
        self._service = service
        self._inbound = inbound
        self._args = args
        self._actions = actions

    def onStart(self, cluster: Any, snapshotImage: Any) -> None:  # noqa: N802, N803
        self._service.on_start(cluster, snapshotImage)

    def onSessionOpen(self) -> int:  # noqa: N802
        actions = self._actions
        actions.position = 0
        session_id, timestamp, _ = ARGS.unpack_from(self._args)
        self._service.on_session_open(session_id, timestamp, actions)
        return actions.position

    def onSessionClose(self) -> int:  # noqa: N802
        actions = self._actions
        actions.position = 0
        session_id, timestamp, _ = ARGS.unpack_from(self._args)
        self._service.on_session_close(session_id, timestamp, actions)
        return actions.position

    def onMessage(self) -> int:  # noqa: N802
        actions = self._actions
        actions.position = 0
        session_id, timestamp, length = ARGS.unpack_from(self._args)
        self._service.on_message(session_id, timestamp, self._inbound[:length], actions)
        return actions.position

    def onTimer(self) -> int:  # noqa: N802
        actions = self._actions
        actions.position = 0
        correlation_id, timestamp, _ = ARGS.unpack_from(self._args)
        self._service.on_timer(correlation_id, timestamp, actions)
        return actions.position

    def onTakeSnapshot(self, snapshotPublication: Any) -> None:  # noqa: N802, N803
        self._service.on_take_snapshot(snapshotPublication)

    def onRoleChange(self) -> None:  # noqa: N802
        self._service.on_role_change(ARGS.unpack_from(self._args)[0])

    def onTerminate(self) -> None:  # noqa: N802
        self._service.on_terminate()


class ServiceHost:
    """The Java ``ServiceHost`` for one :class:`HostedService`, with the buffers they share."""

    def __init__(
        self, service: HostedService, max_frame: int = MAX_FRAME, outbound: int = OUTBOUND_CAPACITY
    ) -> None:
        self.service = service
        self._inbound = SharedBuffer(max_frame)
        self._outbound = SharedBuffer(outbound)
        self._args = SharedBuffer(ARGS.size)
        bridge = _Bridge(service, self._inbound.view, self._args.view, Actions(self._outbound.view))
        self.java: Any = jvm.jclass("rfq.host.ServiceHost")(
            jpype.JProxy("rfq.host.PythonService", inst=bridge),
            self._inbound.byte_buffer,
            self._outbound.byte_buffer,
            self._args.byte_buffer,
        )

    @property
    def service_errors(self) -> int:
        """Exceptions the hosted service raised (each one counted, the host went on)."""
        return int(self.java.serviceErrors())

    @property
    def last_error(self) -> str | None:
        """The last exception the hosted service raised, as text."""
        error = self.java.lastError()
        return None if error is None else str(error.toString())

    @property
    def oversized_frames(self) -> int:
        """Frames larger than the inbound buffer, dropped before reaching Python."""
        return int(self.java.oversizedFrames())

    @property
    def failed_offers(self) -> int:
        """Replies or broadcasts Aeron refused after retries (not connected, closed)."""
        return int(self.java.failedOffers())
