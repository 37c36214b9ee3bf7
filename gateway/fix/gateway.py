"""The FIX gateway: the engine's sessions bound to directory users, on the gateway core.

Why on the core: the cluster session, exactly-once resends, the mirror and routing are the core's
(``rfq.gateway.core``), shared with the web gateway; this module only binds FIX sessions to users and
moves messages: FIX in → ``inbound.translate`` → ``core.submit``; routed events → ``outbound.Renderer``
→ the user's sessions (or its ``Outbox`` while it has none).

Threads: everything here runs on one asyncio event loop (the core's). The engine's drain thread only
posts batches of items to the loop; the slow part of a logon (scrypt, ~50 ms) runs in a worker thread.

Contract:
- Logon: SenderCompID(49) must be a FIX login of the directory and Password(554) its password; the
  user must be a trader or a dealer, and the core must have loaded the cluster's state. Otherwise the
  logon is refused (QuickFIX/J sends a Logout with the reason and disconnects) and the refusal is
  logged with its cause; nothing else happens. The reason the counterparty reads does not tell an
  unknown CompID from a wrong password.
- Each application message becomes at most one cluster command (a new correlation id each: the session
  layer already delivers each message once) or one refusal (``rejects``). The answer to a command is
  rendered from the routed event (echoing the message's ids), or from the CommandRejected.
- A user may have several sessions (several SenderCompIDs): each gets every message for the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rfq.cluster.domain.routing import EVERYONE
from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import CommandRejected
from rfq.collector import CollectorPolicy
from rfq.gateway.core import ClusterUnavailableError, GatewayCore, TransportFactory
from rfq.gateway.fix.book import QuoteBook
from rfq.gateway.fix.engine import EngineSettings, FixEngine, Item
from rfq.gateway.fix.fields import FixMessage, parse
from rfq.gateway.fix.inbound import Refuse, Request, translate
from rfq.gateway.fix.outbound import Renderer
from rfq.gateway.fix.outbox import DEFAULT_CAPACITY, Outbox
from rfq.gateway.fix.rejects import Problem, problem_of, refuse
from rfq.gateway.identity import Directory, Role, User

log = logging.getLogger(__name__)

DEFAULT_PORT = 9878
DEFAULT_GATEWAY_ID = 3
"""Gateway ids are unique per cluster: 1 is the demo loader's, 2 the web gateway's."""
LOGON_REFUSED = "unknown SenderCompID or wrong password"


class Engine(Protocol):
    """What the gateway drives: :class:`~rfq.gateway.fix.engine.FixEngine`, or a fake in tests."""

    def start(self, on_items: Callable[[list[Item]], None]) -> None: ...

    def stop(self, force: bool = False) -> None: ...

    def send_many(self, messages: list[tuple[str, FixMessage]]) -> int: ...

    def answer_logon(self, token: int, user_id: int, refusal: str = "") -> None: ...


@dataclass(frozen=True)
class FixSettings:
    """How one FIX gateway runs (the CLI's options)."""

    data_dir: Path
    """Holds ``gateway.sqlite`` (directory, epoch, dealers' QuoteIDs) and ``fix/`` (the FileStore)."""
    gateway_id: int = DEFAULT_GATEWAY_ID
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    comp_id: str = "RFQGW"
    outbox_capacity: int = DEFAULT_CAPACITY
    logon_timeout_s: float = 10.0
    tune_collector: bool = False
    """Run :class:`rfq.collector.CollectorPolicy` (process-wide): for a gateway that is its
    process's only server (``rfq gateway fix``), not one beside a node or another gateway."""

    @property
    def directory_path(self) -> Path:
        return self.data_dir / "gateway.sqlite"

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(
            store_dir=self.data_dir / "fix" / "store",
            host=self.host,
            port=self.port,
            comp_id=self.comp_id,
            logon_timeout_s=self.logon_timeout_s,
        )


class FixGateway:
    """One FIX gateway: engine, core, directory; start and stop on the event loop."""

    def __init__(
        self,
        settings: FixSettings,
        transport_factory: TransportFactory,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self._factory = transport_factory
        self.engine: Engine = engine or FixEngine(settings.engine_settings())
        self.directory: Directory | None = None
        self.core: GatewayCore | None = None
        self.book = QuoteBook()
        self.renderer: Renderer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sessions: dict[str, int] = {}
        self._user_sessions: dict[int, list[str]] = {}
        self._outboxes: dict[int, Outbox] = {}
        self._logged_on_before: set[int] = set()
        self._fix_users: set[int] = set()
        self._users: dict[int, User] = {}
        self._requests: dict[int, Request] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._out: list[tuple[str, FixMessage]] = []
        self._dealers = _CachedDealers(lambda: self.directory)
        self._collector = CollectorPolicy() if settings.tune_collector else None
        self.refused_logons = 0
        self.messages_in = 0
        self.messages_out = 0

    # --- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the directory, start the core (its cluster session) and the engine."""
        self._loop = asyncio.get_running_loop()
        directory = self.directory = Directory(self.settings.directory_path, background_checkpoints=True)
        self.book = QuoteBook(directory.connection)
        core = self.core = GatewayCore(directory, self._factory, self.settings.gateway_id, stream_views=False)
        self.renderer = Renderer(core.mirror, core.name, self.book)
        self._fix_users = directory.fix_user_ids()
        core.add_listener(self)
        if self._collector is not None:
            self._collector.install()
            core.add_sync_listener(self._collector.state_loaded)
        await core.start()
        self.engine.start(self._post)

    async def stop(self) -> None:
        """Log every session out, then stop the core and close the directory."""
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.engine.stop)
        for task in list(self._tasks):
            task.cancel()
        if self.core is not None:
            await self.core.stop()
        if self.directory is not None:
            self.directory.close()
        if self._collector is not None:
            self._collector.uninstall()

    @property
    def ready(self) -> bool:
        return self.core is not None and self.core.ready

    def sessions(self) -> dict[str, int]:
        """Logged-on sessions → user id."""
        return dict(self._sessions)

    # --- from the engine --------------------------------------------------------------------------
    def _post(self, items: list[Item]) -> None:
        """(drain thread) Hand a batch to the event loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._items, items)

    def _items(self, items: list[Item]) -> None:
        for item in items:
            try:
                self._item(item)
            except Exception:
                log.exception("FIX gateway: handling %s of %s failed", item.kind, item.session)

    def _item(self, item: Item) -> None:
        if item.kind == "M":
            self._message(item.session, int(item.args[0]), item.args[1])
        elif item.kind == "L":
            token, sender, password = int(item.args[0]), item.args[1], item.args[2]
            task = asyncio.ensure_future(self._logon(token, item.session, sender, password))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif item.kind == "O":
            self._logged_on(item.session, int(item.args[0]))
        elif item.kind == "X":
            self._logged_out(item.session)
        elif item.kind == "W":
            log.warning("FIX %s: %s", item.session, item.args[0] if item.args else "")
        elif item.kind == "E":
            log.info("FIX %s: %s", item.session, item.args[0] if item.args else "")

    async def _logon(self, token: int, session: str, sender: str, password: str) -> None:
        user, cause = await self._check(sender, password)
        if user is None:
            self.refused_logons += 1
            log.warning("FIX logon refused: SenderCompID %r on %s: %s", sender, session, cause)
            shown = LOGON_REFUSED if cause in ("unknown SenderCompID", "wrong password") else cause
            self.engine.answer_logon(token, 0, shown)
            return
        self._users[user.user_id] = user
        self.engine.answer_logon(token, user.user_id, "")

    async def _check(self, sender: str, password: str) -> tuple[User | None, str]:
        if not self.ready or self.directory is None:
            return None, "the gateway has not loaded the cluster's state yet: retry"
        credentials = self.directory.fix_credentials(sender)
        if credentials is None:
            return None, "unknown SenderCompID"
        if not await asyncio.to_thread(credentials.check, password):
            return None, "wrong password"
        if credentials.user.role is Role.OPERATOR:
            return None, "operators have no FIX access"
        return credentials.user, ""

    def _logged_on(self, session: str, user_id: int) -> None:
        if user_id <= 0:
            return
        log.info("FIX %s: logged on as user %d", session, user_id)
        first = user_id not in self._logged_on_before
        self._logged_on_before.add(user_id)
        self._fix_users.add(user_id)
        others = bool(self._user_sessions.get(user_id))
        self._sessions[session] = user_id
        self._count_sessions()
        self._user_sessions.setdefault(user_id, []).append(session)
        assert self.renderer is not None
        if others:
            for message in self.renderer.snapshot(user_id):
                self._send(session, message)
            return
        outbox = self._outboxes.pop(user_id, None)
        if outbox is not None and not first and outbox.complete():
            messages = outbox.all()
        else:
            assert self.core is not None
            active = {rfq.rfq_id for rfq in self.core.mirror.rfqs_of(user_id, include_ended=False)}
            messages = outbox.ended_only(active) if outbox is not None else []
            messages.extend(self.renderer.snapshot(user_id))
        for message in messages:
            self._send(session, message)

    def _logged_out(self, session: str) -> None:
        user_id = self._sessions.pop(session, None)
        if user_id is None:
            return
        self._count_sessions()
        log.info("FIX %s: logged out (user %d)", session, user_id)
        sessions = self._user_sessions.get(user_id, [])
        if session in sessions:
            sessions.remove(session)
        if not sessions:
            self._user_sessions.pop(user_id, None)

    def _count_sessions(self) -> None:
        if self.core is not None:
            self.core.metrics.set_fix_sessions(len(self._sessions))

    def _message(self, session: str, seq_num: int, raw: str) -> None:
        self.messages_in += 1
        user_id = self._sessions.get(session)
        user = self._user(user_id) if user_id is not None else None
        message = parse(raw, seq_num)
        if user is None or self.core is None or self.directory is None:
            log.warning("FIX %s: message from no known user; dropped", session)
            return
        result = translate(message, user, session, self.core.mirror, self.book, self._dealers)
        if isinstance(result, Refuse):
            self._reply(session, user.user_id, result.reply)
            return
        correlation_id = self.core.next_correlation_id()
        self._requests[correlation_id] = result.request
        try:
            future = self.core.submit(correlation_id, rfq_sbe.encode(result.build(correlation_id)))
        except ClusterUnavailableError as error:
            self._requests.pop(correlation_id, None)
            reply = refuse(message, Problem.UNAVAILABLE, f"the platform cannot act now: {error}")
            self._reply(session, user.user_id, reply)
            return
        future.add_done_callback(lambda done: self._answered(correlation_id, done))

    def _answered(self, correlation_id: int, done: asyncio.Future[Any]) -> None:
        request = self._requests.pop(correlation_id, None)
        if request is None or done.cancelled() or done.exception() is not None:
            return
        outcome = done.result()
        if isinstance(outcome, CommandRejected):
            reason = outcome.reason
            text = f"{reason.name}: {_REASON_TEXT.get(reason.name, 'refused by the platform')}"
            reply = refuse(request.message, problem_of(reason), text, reason)
            self._reply(request.session, request.user.user_id, reply)

    # --- from the core ----------------------------------------------------------------------------
    def routed(self, event: Any, audience: tuple[int, ...] | object) -> None:
        """A new event: index its ids; render it for each addressed user that has a FIX login."""
        self.book.observe(event)
        if audience is EVERYONE or not isinstance(audience, tuple) or self.renderer is None:
            return
        correlation_id = getattr(event, "correlation_id", None)
        request = self._requests.get(correlation_id) if correlation_id is not None else None
        for user_id in audience:
            if user_id not in self._fix_users:
                continue
            mine = request if request is not None and request.user.user_id == user_id else None
            messages = self.renderer.event(event, user_id, mine)
            if messages:
                self._deliver(user_id, messages, getattr(event, "rfq_id", None))

    def barrier(self, user_id: int | None) -> None:
        """The core may have missed events: online users get a snapshot now, others at logon."""
        users = self._fix_users if user_id is None else {user_id} & self._fix_users
        for user in sorted(users):
            sessions = self._user_sessions.get(user)
            if sessions and self.renderer is not None:
                snapshot = self.renderer.snapshot(user)
                for session in sessions:
                    for message in snapshot:
                        self._send(session, message)
            else:
                self._outbox(user).needs_snapshot = True

    # --- sending ----------------------------------------------------------------------------------
    def _deliver(self, user_id: int, messages: list[FixMessage], rfq_id: int | None) -> None:
        sessions = self._user_sessions.get(user_id)
        if sessions:
            for session in sessions:
                for message in messages:
                    self._send(session, message)
        else:
            self._outbox(user_id).add(rfq_id, messages)

    def _reply(self, session: str, user_id: int, message: FixMessage) -> None:
        """An answer to one message: on its session, or queued if that session is gone."""
        if session in self._sessions:
            self._send(session, message)
        else:
            self._deliver(user_id, [message], None)

    def _send(self, session: str, message: FixMessage) -> None:
        """Queue for the engine: everything queued during one turn of the event loop goes in one call
        into the JVM (each call gives up and retakes the GIL, costly when other threads are busy)."""
        self.messages_out += 1
        if not self._out and self._loop is not None:
            self._loop.call_soon(self._flush)
        self._out.append((session, message))

    def _flush(self) -> None:
        out, self._out = self._out, []
        failed = self.engine.send_many(out)
        if failed:
            log.warning("FIX gateway: %d of %d messages could not be sent", failed, len(out))

    def _outbox(self, user_id: int) -> Outbox:
        outbox = self._outboxes.get(user_id)
        if outbox is None:
            outbox = self._outboxes[user_id] = Outbox(self.settings.outbox_capacity)
        return outbox

    def _user(self, user_id: int) -> User | None:
        user = self._users.get(user_id)
        if user is None and self.directory is not None:
            user = self.directory.user(user_id)
            if user is not None:
                self._users[user_id] = user
        return user


class _CachedDealers:
    """The directory's dealer lookups for QuoteRequests, remembered for a few seconds: a SQLite read
    per named dealer per RFQ costs a GIL hand-off each; a user added or changed by the CLI is seen
    within ``ttl_s``."""

    def __init__(self, directory: Callable[[], Directory | None], ttl_s: float = 5.0) -> None:
        self._directory = directory
        self._ttl_s = ttl_s
        self._names: dict[str, tuple[float, User | None]] = {}
        self._defaults: tuple[float, list[User]] | None = None

    def user_by_name(self, name: str) -> User | None:
        now = time.monotonic()
        known = self._names.get(name)
        if known is not None and now - known[0] < self._ttl_s:
            return known[1]
        directory = self._directory()
        found = directory.user_by_name(name) if directory is not None else None
        if len(self._names) > 10_000:
            self._names.clear()
        self._names[name] = (now, found)
        return found

    def default_dealers(self) -> list[User]:
        now = time.monotonic()
        if self._defaults is None or now - self._defaults[0] >= self._ttl_s:
            directory = self._directory()
            self._defaults = (now, directory.default_dealers() if directory is not None else [])
        return self._defaults[1]


_REASON_TEXT = {
    "UNKNOWN_RFQ": "no such RFQ",
    "UNKNOWN_QUOTE": "no such quote",
    "ALREADY_TRADED": "the RFQ has traded",
    "RFQ_EXPIRED": "the RFQ's deadline has passed",
    "RFQ_NOT_ACTIVE": "the RFQ has ended",
    "NOT_INVITED": "you are not invited to this RFQ",
    "NOT_A_PARTY": "you are not a party to this RFQ",
    "NOT_REQUESTER": "only the requester may do this",
    "DEALER_PASSED": "you passed on this RFQ",
    "QUOTE_NOT_LIVE": "the quote is not live",
    "COUNTER_NOT_LIVE": "the counter is not live",
    "INVALID_PRICE": "the price must be positive",
    "INVALID_VALIDITY": "ValidUntilTime must be after now and no later than the RFQ's deadline",
    "INVALID_QUANTITY": "the quantity must be positive",
    "QUANTITY_BELOW_MINIMUM": "the quantity is below the instrument's minimum",
    "EXPIRY_NOT_IN_FUTURE": "the deadline is not in the future",
    "UNKNOWN_INSTRUMENT": "unknown instrument",
    "INSTRUMENT_DISABLED": "the instrument is disabled",
    "NO_DEALERS": "no dealers named and no default dealers",
    "TOO_MANY_DEALERS": "too many dealers",
    "DUPLICATE_DEALER": "a dealer is named twice",
    "REQUESTER_AS_DEALER": "a requester cannot ask itself",
    "INVALID_FIELD": "a field is invalid",
    "CORRELATION_ID_REUSED": "internal: correlation id reused",
}
