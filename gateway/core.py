"""The gateway core: one cluster session on one thread, and an asyncio face for the edge protocols.

Why a thread: Aeron's cluster client is single-threaded by contract, and its egress arrives only when
polled. The core's *cluster thread* owns the transport (a :class:`CommandClient`): it sends what the
event loop hands it, waits for egress (in Java, holding no GIL: rfq.client.EgressWaiter; the loop
wakes it when it queues a command), and hands every decoded event back to the loop in batches
(``loop.call_soon_threadsafe``). Everything else — the mirror, routing, personalisation, stream logs,
the directory — runs on the event loop, so none of it needs a lock.

Contract (used by the web gateway, and by the FIX gateway to come):
- :meth:`GatewayCore.submit` takes an encoded command and its correlation id (from
  :meth:`next_correlation_id`) and returns a future of its outcome: the first event naming that id
  (the copy addressed to the acting user, or a ``CommandRejected``). The command stays pending in the
  transport and is resent (after a new leader, a reconnection, or a silence) until that outcome comes,
  whether or not anyone still awaits the future.
- Correlation ids are ``gateway_id | epoch | sequence`` with an epoch taken from the directory at every
  start: a restarted gateway is never answered with an outcome meant for its earlier life.
- On start, and whenever the session may have missed broadcasts (new leader, reconnection), the core
  asks the cluster for its state (``QueryState``) and rebuilds the mirror from the answer; users whose
  view changed meanwhile (or everyone, when RFQs were created unseen or instruments changed) get a
  stream barrier, hence a snapshot: never a silent gap.
- Events are routed with the domain's ``recipients`` rule and logged, personalised, per user
  (``rfq.gateway.streams``). A duplicate (the cluster's answer to a resend) is neither applied nor
  streamed twice: it is recognised by the event's identity, or, for a command of an earlier life
  resent after a restart, by its cluster time being older than the state answer that already
  includes it (cluster time never goes back along the log). It still answers its command. One
  exception: the ending of an RFQ that vanished from a state answer unheard (its broadcast lost with
  a leader) is news even when older than the answer, which holds active RFQs only: it is applied
  and streamed.
- :attr:`ready` is true once the session is open, a leader is known and the state has been loaded.
- Edges that render events their own way (FIX) register a :class:`RouteListener`: it sees every new
  event with its audience, after the mirror has applied it and before the command's future resolves
  (so a listener can still find what it attached to the command), and every barrier.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from rfq.cluster.domain.routing import EVERYONE, recipients
from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import (
    CommandRejected,
    DealerPassed,
    InstrumentAdded,
    InstrumentEnabled,
    InstrumentRecord,
    QueryState,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RfqCreated,
    RfqEnded,
    RfqInvited,
    RfqRecord,
    RfqTraded,
    StateQueried,
)
from rfq.gateway.command_client import CorrelationIds
from rfq.gateway.identity import Directory, Instrument
from rfq.gateway.metrics import CoreMetrics, CoreState, command_name
from rfq.gateway.mirror import Mirror
from rfq.gateway.streams import StreamLog
from rfq.gateway.views import Personaliser

log = logging.getLogger(__name__)

QUERY_USER_ID = 1
"""The user id a ``QueryState`` carries: the cluster checks only its range; no user sees the answer."""
KEEP_ALIVE_S = 1.0
STATUS_CHECK_S = 0.005
"""How often the cluster thread asks the transport whether the session is open and who leads; also
the longest it waits for egress in one go (:meth:`Transport.wait`, which idles in Java and ends as
soon as a frame arrives or the event loop queues a command)."""
DEDUPE_CAPACITY = 200_000
"""Identities of recent events remembered to recognise the cluster's answers to resends."""


class Transport(Protocol):
    """What the cluster thread drives: :class:`rfq.gateway.command_client.CommandClient`, or a fake."""

    def connect(self, wait_s: float = 0.0) -> Any: ...

    def close(self) -> None: ...

    def submit_frame(self, correlation_id: int, frame: bytes) -> None: ...

    def poll(self) -> int: ...

    def wait(self, timeout_s: float) -> int:
        """Wait for egress (delivering it) until some arrives, :meth:`wake`, or ``timeout_s``."""
        ...

    def wake(self) -> None:
        """End the current or next :meth:`wait` early; called from the event loop."""
        ...

    def send_keep_alive(self) -> bool: ...

    @property
    def is_connected(self) -> bool: ...

    @property
    def leader_member_id(self) -> int: ...


TransportFactory = Callable[[Callable[[Any], None], Callable[[], None], CorrelationIds], Transport]
"""``(on_event, on_session_change, correlation_ids) → transport``; called on the cluster thread."""


class RouteListener(Protocol):
    """An edge's view of the routed events (called on the event loop; must not raise)."""

    def routed(self, event: Any, audience: tuple[int, ...] | object) -> None:
        """A new event (never a resend's duplicate) for ``audience``: user ids, or ``EVERYONE``."""

    def barrier(self, user_id: int | None) -> None:
        """``user_id`` (None: everyone) may have missed events: resend it what it may see now."""


class ClusterUnavailableError(RuntimeError):
    """The core has no cluster session now: nothing was sent."""


@dataclass
class CoreStatus:
    """What ``/readyz`` reports."""

    connected: bool = False
    leader_member_id: int = -1
    synced: bool = False
    directory_loaded: bool = False

    @property
    def ready(self) -> bool:
        return self.connected and self.leader_member_id >= 0 and self.synced and self.directory_loaded


class GatewayCore:
    """One gateway process's cluster session, mirror, routing and streams."""

    def __init__(
        self,
        directory: Directory,
        transport_factory: TransportFactory,
        gateway_id: int,
        *,
        stream_capacity: int = 1_000,
        connect_retry_s: float = 1.0,
        stream_views: bool = True,
    ) -> None:
        self.directory = directory
        self.gateway_id = gateway_id
        self.start_epoch = directory.next_epoch()
        """This life's number: the correlation ids' epoch and the stream ids' prefix."""
        self.ids = CorrelationIds(gateway_id, self.start_epoch, renew_epoch=directory.next_epoch)
        self.mirror = Mirror()
        self.streams = StreamLog(self.start_epoch, stream_capacity)
        self.stream_views = stream_views
        """False: events are not rendered into :attr:`streams` (an edge that renders its own, FIX)."""
        self._names: dict[int, str] = {}
        self._descriptions: dict[str, str] | None = None
        self.personaliser = Personaliser(self.mirror, self.name, self.descriptions)
        self.status = CoreStatus(directory_loaded=True)
        self.synced = asyncio.Event()
        self._factory = transport_factory
        self._connect_retry_s = connect_retry_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._inbox: queue.SimpleQueue[tuple[int, bytes]] = queue.SimpleQueue()
        self._futures: dict[int, asyncio.Future[Any]] = {}
        self._queries: set[int] = set()
        self._records: list[InstrumentRecord | RfqRecord] = []
        self._seen: OrderedDict[Hashable, None] = OrderedDict()
        self._stale_before_ms = 0
        """Cluster time of the last state answer: an event older than it, arriving after it, is
        already in the mirror (it answers a resend)."""
        self.duplicates = 0
        self.events = 0
        self._submitted: dict[int, tuple[str, float]] = {}
        """Pending commands' type and submission time (``perf_counter``), for the round-trip metrics."""
        self._transport: Any = None
        self.metrics = CoreMetrics()
        """This gateway's Prometheus registry (``rfq.gateway.metrics``); edges add to it."""
        self.metrics.add_state(self.metrics_state)
        self._listeners: list[RouteListener] = []
        self._sync_listeners: list[Callable[[str], None]] = []

    def add_listener(self, listener: RouteListener) -> None:
        """Tell ``listener`` about every routed event and every barrier from now on."""
        self._listeners.append(listener)

    def add_sync_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener("state_loaded")`` on the event loop once the cluster's state is loaded, and
        ``listener("resync")`` after each later reload (e.g. a process-wide collector policy)."""
        self._sync_listeners.append(listener)

    # --- lifecycle (event loop) -----------------------------------------------------------------
    async def start(self) -> None:
        """Start the cluster thread; the core becomes ready once the cluster's state is loaded."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=f"rfq-gateway-{self.gateway_id}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop the thread and close the session; awaiting futures fail with ClusterUnavailableError."""
        self._stop.set()
        self._wake_cluster_thread()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30.0)
        for future in self._futures.values():
            if not future.done():
                future.set_exception(ClusterUnavailableError("the gateway stopped"))
                future.exception()  # retrieved: nobody need await it
        self._futures.clear()
        self._submitted.clear()

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait until :attr:`ready`; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while not self.ready:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    @property
    def ready(self) -> bool:
        return self.status.ready

    # --- commands (event loop) ------------------------------------------------------------------
    def next_correlation_id(self) -> int:
        return self.ids.next()

    def submit(self, correlation_id: int, frame: bytes) -> asyncio.Future[Any]:
        """Send the command and return the future of its outcome (the same future while it is pending).

        Raises :class:`ClusterUnavailableError` when there is no session: nothing is sent then."""
        future = self._futures.get(correlation_id)
        if future is not None:
            return future
        if not self.status.connected:
            raise ClusterUnavailableError("no cluster session")
        assert self._loop is not None, "start() the core first"
        future = self._loop.create_future()
        self._futures[correlation_id] = future
        name = command_name(frame)
        self._submitted[correlation_id] = (name, time.perf_counter())
        self.metrics.commands.labels(name).inc()
        self._inbox.put((correlation_id, frame))
        self._wake_cluster_thread()
        return future

    @property
    def pending_count(self) -> int:
        """Commands submitted in this life still awaiting their outcome."""
        return len(self._futures)

    def pending(self, correlation_id: int) -> asyncio.Future[Any] | None:
        """The future of a command submitted in this life and still awaiting its outcome."""
        return self._futures.get(correlation_id)

    def metrics_state(self) -> CoreState:
        """The core's state for a metrics scrape (the transport's counts are read racily: fine)."""
        transport = self._transport
        return CoreState(
            ready=self.ready,
            leader_member_id=self.status.leader_member_id,
            pending_commands=len(self._futures),
            stream_subscribers=self.streams.subscribers,
            epoch=self.start_epoch,
            events_routed=self.events,
            duplicate_events=self.duplicates,
            leader_changes=int(getattr(transport, "leader_changes", 0)),
            resends=int(getattr(transport, "resends", 0)),
            reconnects=int(getattr(transport, "reconnects", 0)),
        )

    # --- directory lookups (event loop) ---------------------------------------------------------
    def name(self, user_id: int) -> str | None:
        name = self._names.get(user_id)
        if name is None:
            user = self.directory.user(user_id)
            if user is not None:
                name = self._names[user_id] = user.name
        return name

    def descriptions(self) -> dict[str, str]:
        if self._descriptions is None:
            self._descriptions = self.directory.descriptions()
        return self._descriptions

    def describe(self, cusip: str, description: str) -> None:
        """Record the gateway's description of an instrument."""
        self.directory.describe(cusip, description)
        self._descriptions = None

    # --- the cluster thread ---------------------------------------------------------------------
    def _run(self) -> None:
        batch: list[Any] = []
        session_changed = threading.Event()
        transport = self._factory(batch.append, session_changed.set, self.ids)
        self._transport = transport
        try:
            while not self._stop.is_set():
                try:
                    transport.connect()
                    break
                except Exception as error:
                    log.warning("gateway %d: cannot reach the cluster: %s", self.gateway_id, error)
                    self._stop.wait(self._connect_retry_s)
            else:
                return
            self._call(self._session_opened)
            last_keep_alive = time.monotonic()
            status_due = 0.0
            while not self._stop.is_set():
                work = 0
                while True:
                    try:
                        correlation_id, frame = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    with contextlib.suppress(ValueError):  # pending already: it is being resent
                        transport.submit_frame(correlation_id, frame)
                    work += 1
                work += transport.poll()
                if batch:
                    self._call(self._deliver, batch[:])
                    batch.clear()
                if session_changed.is_set():
                    session_changed.clear()
                    self._call(self._session_opened)
                now = time.monotonic()
                if now >= status_due:
                    # at most every STATUS_CHECK_S: each is a call into the JVM, which gives up and
                    # retakes the GIL (costly for the edge's threads when egress is busy)
                    status_due = now + STATUS_CHECK_S
                    connected = transport.is_connected
                    leader = transport.leader_member_id if connected else -1
                    if connected != self.status.connected or leader != self.status.leader_member_id:
                        self._call(self._set_session, connected, leader)
                if now - last_keep_alive >= KEEP_ALIVE_S:
                    transport.send_keep_alive()
                    last_keep_alive = now
                if not work:
                    transport.wait(max(0.0, status_due - now))
        except Exception:
            log.exception("gateway %d: the cluster thread failed", self.gateway_id)
        finally:
            with contextlib.suppress(Exception):
                transport.close()
            self._call(self._set_session, False, -1)

    def _wake_cluster_thread(self) -> None:
        """Make the cluster thread look at its inbox now rather than at the end of its wait."""
        transport = self._transport
        if transport is not None:
            transport.wake()

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(callback, *args)

    # --- back on the event loop -----------------------------------------------------------------
    def _set_session(self, connected: bool, leader_member_id: int) -> None:
        status = self.status
        if connected != status.connected:
            state = "up" if connected else "down"
            log.info(
                "gateway %d: cluster session %s",
                self.gateway_id,
                state,
                extra={"event": f"session_{state}", "gateway_id": self.gateway_id},
            )
        if connected and leader_member_id != status.leader_member_id and leader_member_id >= 0:
            log.info(
                "gateway %d: the leader is member %d",
                self.gateway_id,
                leader_member_id,
                extra={
                    "event": "leader_change",
                    "gateway_id": self.gateway_id,
                    "leader_member_id": leader_member_id,
                },
            )
        status.connected = connected
        status.leader_member_id = leader_member_id

    def _session_opened(self) -> None:
        """A new session or a new leader: broadcasts may have been lost; ask for the state."""
        self.status.connected = True
        correlation_id = self.ids.next()
        self._queries.add(correlation_id)
        self._records.clear()
        self._inbox.put(
            (correlation_id, rfq_sbe.encode(QueryState(correlation_id=correlation_id, user_id=QUERY_USER_ID)))
        )
        self._wake_cluster_thread()

    def _deliver(self, batch: list[Any]) -> None:
        for event in batch:
            if isinstance(event, InstrumentRecord | RfqRecord):
                self._records.append(event)
            elif isinstance(event, StateQueried):
                self._state_answered(event)
            elif isinstance(event, CommandRejected):
                self._resolve(event.correlation_id, event)
            else:
                self._event(event)

    def _event(self, event: Any) -> None:
        key = _identity(event)
        stale = getattr(event, "timestamp_ms", 0) < self._stale_before_ms
        if (key is not None and key in self._seen) or (stale and not self._ends_vanished(event)):
            self.duplicates += 1
        else:
            if key is not None:
                self._seen[key] = None
                if len(self._seen) > DEDUPE_CAPACITY:
                    self._seen.popitem(last=False)
            self.events += 1
            self.mirror.apply(event)
            self._mirror_to_directory(event)
            self._route(event)
        correlation_id = getattr(event, "correlation_id", None)
        if correlation_id is not None:
            self._resolve(correlation_id, event)

    def _ends_vanished(self, event: Any) -> bool:
        """An ending (trade, end) of an RFQ that vanished from a state answer unheard: older than the
        answer, yet not in it (a state answer holds active RFQs only), so it is news, not a repeat."""
        if not isinstance(event, RfqTraded | RfqEnded):
            return False
        rfq = self.mirror.rfq(event.rfq_id)
        return rfq is not None and rfq.vanished

    def _route(self, event: Any) -> None:
        try:
            audience = recipients(event)
        except TypeError:
            return
        for listener in self._listeners:
            try:
                listener.routed(event, audience)
            except Exception:
                log.exception("gateway %d: a route listener failed", self.gateway_id)
        if not self.stream_views:
            return
        if audience is EVERYONE:
            view = self.personaliser.event(event, 0)
            if view is not None:
                self.streams.append(None, view.type, view.model_dump_json())
            return
        assert isinstance(audience, tuple)
        kind = self.personaliser.event_type(event)
        for user_id in audience:
            if kind is not None:  # rendered when a stream first reads it, if one ever does
                self.streams.append(user_id, kind, functools.partial(self._render, event, user_id))
                continue
            view = self.personaliser.event(event, user_id)
            if view is not None:
                self.streams.append(user_id, view.type, view.model_dump_json())

    def _render(self, event: Any, user_id: int) -> str:
        view = self.personaliser.event(event, user_id)
        assert view is not None, f"{type(event).__name__} has an event type but no view"
        return view.model_dump_json()

    def _mirror_to_directory(self, event: Any) -> None:
        if isinstance(event, InstrumentAdded | InstrumentEnabled):
            known = self.mirror.instruments.get(event.instrument_id)
            if known is not None:
                self.directory.upsert_instrument(
                    Instrument(known.instrument_id, known.cusip, known.min_quantity, known.enabled)
                )

    def _resolve(self, correlation_id: int, outcome: Any) -> None:
        submitted = self._submitted.pop(correlation_id, None)
        if submitted is not None:
            name, started = submitted
            self.metrics.round_trip.labels(name).observe(time.perf_counter() - started)
            if isinstance(outcome, CommandRejected):
                self.metrics.refusals.labels(name, outcome.reason.name).inc()
        future = self._futures.pop(correlation_id, None)
        if future is not None and not future.done():
            future.set_result(outcome)

    def _state_answered(self, answer: StateQueried) -> None:
        if answer.correlation_id not in self._queries:
            self._records.clear()
            return
        self._queries.discard(answer.correlation_id)
        expected = answer.instrument_count + answer.rfq_count
        records = self._records[len(self._records) - expected :] if expected else []
        self._records.clear()
        if len(records) != expected:
            log.warning("gateway %d: a partial state answer; asking again", self.gateway_id)
            self._session_opened()
            return
        if self.status.synced:
            self._resync(records, answer)
            self.metrics.resyncs.inc()
            event = "resync"
        else:
            self.mirror.rebuild(records)
            event = "state_loaded"
        log.info(
            "gateway %d: %s: %d instruments, %d live RFQs",
            self.gateway_id,
            event.replace("_", " "),
            answer.instrument_count,
            answer.rfq_count,
            extra={"event": event, "gateway_id": self.gateway_id, "rfqs": answer.rfq_count},
        )
        self._stale_before_ms = answer.timestamp_ms
        self.directory.replace_instruments(
            Instrument(i.instrument_id, i.cusip, i.min_quantity, i.enabled)
            for i in self.mirror.instruments.values()
        )
        self.status.synced = True
        self.synced.set()
        for listener in self._sync_listeners:
            try:
                listener(event)
            except Exception:
                log.exception("gateway %d: a sync listener failed", self.gateway_id)

    def _resync(self, records: list[InstrumentRecord | RfqRecord], answer: StateQueried) -> None:
        """Rebuild from a later answer; barrier every user whose view the answer changed."""
        parties = {user for rfq in self.mirror.active.values() for user in rfq.parties()}
        before = {user: self.personaliser.rfq_views(user, include_ended=False) for user in parties}
        instruments_before = dict(self.mirror.instruments)
        highest_before = self.mirror.highest_rfq_id
        self.mirror.rebuild(records)
        unseen_rfqs = answer.next_rfq_id - 1 > max(highest_before, self.mirror.highest_rfq_id)
        if unseen_rfqs or self.mirror.instruments != instruments_before:
            self._barrier(None)
            return
        parties |= {user for rfq in self.mirror.active.values() for user in rfq.parties()}
        for user in sorted(parties):
            if self.personaliser.rfq_views(user, include_ended=False) != before.get(user, []):
                self._barrier(user)

    def _barrier(self, user_id: int | None) -> None:
        self.streams.barrier(user_id)
        for listener in self._listeners:
            try:
                listener.barrier(user_id)
            except Exception:
                log.exception("gateway %d: a route listener failed", self.gateway_id)


def _identity(event: Any) -> Hashable | None:
    """What makes one event copy unique in the cluster's history (a resend's answer repeats it)."""
    if isinstance(event, InstrumentAdded):
        return ("instrument_added", event.instrument_id)
    if isinstance(event, InstrumentEnabled):
        return ("instrument_enabled", event.correlation_id, event.instrument_id)
    if isinstance(event, RfqCreated):
        return ("rfq_created", event.rfq_id)
    if isinstance(event, RfqInvited):
        return ("rfq_invited", event.rfq_id, event.dealer_user_id)
    if isinstance(event, QuoteSubmitted):
        return ("quote_submitted", event.quote_id, event.recipient_user_id)
    if isinstance(event, QuoteWithdrawn):
        return ("quote_withdrawn", event.quote_id, event.recipient_user_id)
    if isinstance(event, DealerPassed):
        return ("dealer_passed", event.rfq_id, event.dealer_user_id, event.recipient_user_id)
    if isinstance(event, QuoteCountered):
        return ("quote_countered", event.counter_id, event.recipient_user_id)
    if isinstance(event, RfqTraded):
        return ("rfq_traded", event.trade_id, event.recipient_user_id)
    if isinstance(event, RfqEnded):
        return ("rfq_ended", event.rfq_id, event.recipient_user_id)
    return None
