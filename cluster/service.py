"""The replicated RFQ service: the Aeron adapter around the pure state machine.

For each log message: decode the command (strictly), ``StateMachine.apply`` it at the message's
cluster time, encode the outcome's events straight into the host's outbound buffer, addressed to every
gateway session (a change of state) or to the sender alone (a refusal, a duplicate). Timers the state
machine asks for become timer actions; timers that fire become ``on_timer`` calls. A frame that is not
a valid command is answered with a ``CommandRejected`` naming why, and nothing else happens: the
service never stops on a frame.

Snapshots are the state machine's records, each one SBE message, written in order; a SHA-256 digest of
their bytes and the log position are kept (``digests``, and a file when ``digest_dir`` is set) so that
operators and tests can check that replicas agree. ``stats`` counts commands by type, refusals by
reason and the time each message took (``rfq.cluster.metrics``); the node's status endpoint serves them.

Only the leader encodes its events: Aeron drops a follower's egress (its ClientSession offers return
MOCKED_OFFER whenever the service's role is not LEADER; ``onRoleChange`` reports that very role
first), so a follower applies every command, schedules every timer, and skips the encoding that
would be dropped: about 5 µs per command on each follower, on a machine where three replicas share
the cores.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import struct
import time
from bisect import bisect_left as _bisect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jpype

from rfq import jvm
from rfq.cluster.domain import Audience, Outcome, StateMachine
from rfq.cluster.domain.messages import COMMAND_TYPES, Command, Reply
from rfq.cluster.host import Actions, HostedService
from rfq.cluster.metrics import ServiceStats
from rfq.codecs import rfq_sbe
from rfq.codecs.errors import (
    BadValueError,
    CodecError,
    UnknownTemplateError,
    UnsupportedVersionError,
    WrongSchemaError,
)
from rfq.codecs.rfq_sbe import CommandRejected, RejectReason
from rfq.collector import CollectorPolicy

_RECORD_LENGTH = struct.Struct("<i")
_HEADER = struct.Struct("<HHHH")
_CORRELATION = struct.Struct("<q")
_USER = struct.Struct("<i")
_USER_OFFSET = _HEADER.size + _CORRELATION.size
"""Every command's body starts with correlationId (int64) then userId (int32)."""
log = logging.getLogger(__name__)
_clock_ns = time.perf_counter_ns
_COMMANDS = frozenset(COMMAND_TYPES)
_COMMAND_TEMPLATES = frozenset(command.TEMPLATE_ID for command in COMMAND_TYPES)
LEADER = 2
"""``Cluster.Role.LEADER``'s code, as ``on_role_change`` gets it."""


def rejection_for(frame: memoryview, error: CodecError, timestamp_ms: int) -> CommandRejected:
    """The answer to a frame that did not decode: its correlation and user ids when readable, and why.

    Every command starts its body with ``correlationId`` (int64, offset 0) and ``userId`` (int32,
    offset 8): whatever else is wrong with the frame, those are read where they are when the frame is
    long enough, so that the refusal can be routed back to its sender. The user id is read only when
    the header names this schema and a command template (elsewhere offset 8 holds something else); a
    user id outside 1..2^31-1 is not one (``None``: the refusal then goes to the sending session with no
    user named).
    """
    template_id = 0
    correlation_id = 0
    user_id: int | None = None
    if len(frame) >= _HEADER.size:
        template_id = _HEADER.unpack_from(frame)[1]
        if len(frame) >= _HEADER.size + _CORRELATION.size:
            correlation_id = _CORRELATION.unpack_from(frame, _HEADER.size)[0]
        _, _, schema_id, _ = _HEADER.unpack_from(frame)
        is_command = schema_id == rfq_sbe.SCHEMA_ID and template_id in _COMMAND_TEMPLATES
        if is_command and len(frame) >= _USER_OFFSET + _USER.size:
            value = _USER.unpack_from(frame, _USER_OFFSET)[0]
            user_id = value if value >= 1 else None  # an int32: at most 2^31-1
    if isinstance(error, WrongSchemaError):
        reason = RejectReason.WRONG_SCHEMA
    elif isinstance(error, UnknownTemplateError):
        reason = RejectReason.UNKNOWN_TEMPLATE
    elif isinstance(error, UnsupportedVersionError):
        reason = RejectReason.UNSUPPORTED_VERSION
    elif isinstance(error, BadValueError):
        reason = RejectReason.INVALID_FIELD
    else:  # short, truncated, bad block length, trailing bytes...
        reason = RejectReason.MALFORMED_FRAME
    return CommandRejected(
        correlation_id=correlation_id,
        user_id=user_id,
        template_id=template_id,
        reason=reason,
        timestamp_ms=timestamp_ms,
    )


def encode_records(records: list[Any]) -> bytes:
    """Snapshot records as ``[int32 length][SBE frame]...`` (the format ServiceHost writes)."""
    out = bytearray()
    for record in records:
        frame = rfq_sbe.encode(record)
        out += _RECORD_LENGTH.pack(len(frame))
        out += frame
    return bytes(out)


def decode_records(data: bytes | memoryview) -> Iterator[Any]:
    """The records of :func:`encode_records`' format, decoded."""
    view = memoryview(data)
    position = 0
    while position < len(view):
        (length,) = _RECORD_LENGTH.unpack_from(view, position)
        position += _RECORD_LENGTH.size
        yield rfq_sbe.decode(view, position, length)
        position += length


class _ActionTimers:
    """The state machine's TimerPort, writing timer actions for the event being handled."""

    __slots__ = ("actions",)

    def __init__(self) -> None:
        self.actions: Actions | None = None

    def schedule(self, correlation_id: int, deadline_ms: int) -> None:
        assert self.actions is not None, "timers are only asked for while an event is handled"
        self.actions.schedule_timer(correlation_id, deadline_ms)

    def cancel(self, correlation_id: int) -> None:
        assert self.actions is not None, "timers are only cancelled while an event is handled"
        self.actions.cancel_timer(correlation_id)


class RfqService(HostedService):
    """The RFQ state machine as an Aeron clustered service."""

    def __init__(self, digest_dir: Path | None = None, tune_collector: bool = False) -> None:
        """``tune_collector``: run :class:`rfq.collector.CollectorPolicy` from :meth:`on_start` on (it
        is process-wide: for a service that owns its process, as in ``rfq node`` and ``rfq run``)."""
        self._collector = CollectorPolicy() if tune_collector else None
        self._timers = _ActionTimers()
        self.machine = StateMachine(self._timers)
        self.cluster: Any = None
        self.digest_dir = digest_dir
        self.digests: list[tuple[int, str]] = _read_digests(digest_dir)
        """(log position, SHA-256 of the snapshot bytes) of each snapshot this replica took (in earlier
        lives too, when ``digest_dir`` keeps them)."""
        self.stats = ServiceStats()
        """What this replica applied and refused, and how long each message took (observations only)."""
        self._message_time = self.stats.message_time
        self.role = -1
        """The last role Aeron told the service (0 follower, 1 candidate, 2 leader); -1 before any."""

    @property
    def commands(self) -> int:
        """Commands applied so far (every type, duplicates included)."""
        return sum(self.stats.commands)

    @property
    def malformed_frames(self) -> int:
        return self.stats.malformed_frames

    # --- lifecycle ----------------------------------------------------------------------------
    def on_start(self, cluster: Any, snapshot_image: Any) -> None:
        started = time.perf_counter()
        self.cluster = cluster
        size = 0
        if snapshot_image is not None:
            host = jvm.jclass("rfq.host.ServiceHost")
            data = bytes(memoryview(host.readSnapshot(snapshot_image, cluster.idleStrategy())))
            size = len(data)
            self.machine = StateMachine.restore(decode_records(data), self._timers)
        # Everything alive now (modules, the JVM bridge, the restored state) lives as long as the
        # service: move it out of the cyclic collector's sight, so that full collections on the
        # service thread walk only what was made since. The service's own objects are acyclic and
        # freed by reference counting, frozen or not.
        gc.collect()
        gc.freeze()
        if self._collector is not None:  # and from now on after every collection
            self._collector.install()
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info(
            "service started in %.0f ms (snapshot: %d bytes)",
            elapsed_ms,
            size,
            extra={"event": "service_start", "duration_ms": round(elapsed_ms, 1), "snapshot_bytes": size},
        )

    def on_terminate(self) -> None:
        if self._collector is not None:  # a process that goes on (tests, a restart) collects as before
            self._collector.uninstall()

    def on_take_snapshot(self, publication: Any) -> None:
        data = encode_records(self.machine.snapshot())
        jvm.jclass("rfq.host.ServiceHost").writeSnapshot(
            publication, jpype.JArray(jpype.JByte)(data), self.cluster.idleStrategy()
        )
        position = int(self.cluster.logPosition())
        digest = hashlib.sha256(data).hexdigest()
        self._record_digest(position, digest)
        self.stats.snapshots += 1
        log.info(
            "snapshot taken at log position %d, digest %s",
            position,
            digest[:16],
            extra={"event": "snapshot", "log_position": position, "digest": digest, "bytes": len(data)},
        )

    def on_role_change(self, role: int) -> None:
        # logged by the node's status server (rfq.cluster.status), which sees every service's role
        self.role = role

    def on_session_open(self, session_id: int, timestamp: int, actions: Actions) -> None:
        log.info("session %d opened", session_id, extra={"event": "session_open", "session_id": session_id})

    def on_session_close(self, session_id: int, timestamp: int, actions: Actions) -> None:
        log.info("session %d closed", session_id, extra={"event": "session_close", "session_id": session_id})

    # --- events -------------------------------------------------------------------------------
    def on_message(self, session_id: int, timestamp: int, frame: memoryview, actions: Actions) -> None:
        started = _clock_ns()
        try:
            self._handle(session_id, timestamp, frame, actions)
        finally:  # LatencyHistogram.observe, inlined: this runs for every message
            elapsed = _clock_ns() - started
            histogram = self._message_time
            histogram.counts[_bisect(histogram.bounds_ns, elapsed)] += 1
            histogram.sum_ns += elapsed

    def _handle(self, session_id: int, timestamp: int, frame: memoryview, actions: Actions) -> None:
        stats = self.stats
        try:
            command = rfq_sbe.decode(frame)
        except CodecError as error:
            self._refuse_frame(session_id, rejection_for(frame, error, timestamp), actions)
            return
        if type(command) not in _COMMANDS:
            rejection = rejection_for(frame, UnknownTemplateError("not a command"), timestamp)
            self._refuse_frame(session_id, rejection, actions)
            return
        stats.commands[command.TEMPLATE_ID] += 1
        self._timers.actions = actions
        try:
            outcome = self.machine.apply(_as_command(command), timestamp)
        finally:
            self._timers.actions = None
        first = outcome.events[0]
        if outcome.duplicate:
            stats.duplicates += 1
        elif type(first) is CommandRejected:
            stats.refusal(first.reason)
        self._send(session_id, outcome, actions)

    def _refuse_frame(self, session_id: int, rejection: CommandRejected, actions: Actions) -> None:
        self.stats.malformed_frames += 1
        self.stats.refusal(rejection.reason)
        if self.role == LEADER:
            actions.reply_message(session_id, rejection)

    def on_timer(self, correlation_id: int, timestamp: int, actions: Actions) -> None:
        self._timers.actions = actions
        try:
            events = self.machine.on_timer(correlation_id, timestamp)
        finally:
            self._timers.actions = None
        if self.role == LEADER:
            for event in events:
                actions.broadcast_message(event)

    # --- internals ----------------------------------------------------------------------------
    def _send(self, session_id: int, outcome: Outcome, actions: Actions) -> None:
        if self.role != LEADER:
            return  # Aeron would drop it (see the module's docstring)
        events: tuple[Reply, ...] = outcome.events
        if outcome.audience is Audience.BROADCAST:
            for event in events:
                actions.broadcast_message(event)
        else:
            for event in events:
                actions.reply_message(session_id, event)

    def _record_digest(self, log_position: int, digest: str) -> None:
        self.digests.append((log_position, digest))
        if self.digest_dir is not None:
            self.digest_dir.mkdir(parents=True, exist_ok=True)
            with open(self.digest_dir / "snapshot-digests.txt", "a") as out:
                out.write(f"{log_position} {digest}\n")


def _read_digests(digest_dir: Path | None) -> list[tuple[int, str]]:
    path = None if digest_dir is None else digest_dir / "snapshot-digests.txt"
    if path is None or not path.exists():
        return []
    pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
    return [(int(position), digest) for position, digest in pairs]


def _as_command(message: Any) -> Command:
    """Narrow a decoded message already checked to be a command (for the type checker)."""
    command: Command = message
    return command
