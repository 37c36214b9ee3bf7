"""The FIX engine: QuickFIX/J's acceptor in this process's JVM, behind ``rfq.fix.FixBridge``.

Why this shape (see shared/notes/aeron-from-python.md): QuickFIX/J runs its sessions on threads the
JVM created, and a call from such a thread into Python is slow and leaks. So nothing in Java calls
Python: the bridge queues strings and one Python thread drains them (the drain blocks in Java, where
JPype releases the GIL); Python calls Java to answer a logon and to send. The session layer — logon,
heartbeats, test requests, sequence numbers, resend requests and gap fills, validation against the
FIX 4.4 dictionary with session Rejects (3), the persisted FileStore — is entirely QuickFIX/J's.

Contract:
- :meth:`FixEngine.start` starts the acceptor (any counterparty CompID may connect: sessions are
  created from a template at their first logon, with their own files in the store) and a drain thread
  that hands batches of :class:`Item` to ``on_items`` (which must return quickly; the gateway posts
  them to its event loop).
- Every logon waits in QuickFIX/J's session thread for :meth:`answer_logon` (at most
  ``logon_timeout_s``); no answer means refused. Only that session waits: the acceptor runs a thread
  per session (``ThreadedSocketAcceptor``).
- :meth:`send` may be called from any Python thread; the engine stores every message it sends
  (FileStore), so resend requests are answered from the store.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfq import jvm
from rfq.gateway.fix.fields import FixMessage

log = logging.getLogger(__name__)
_SEP = "\x02"


@dataclass(frozen=True)
class EngineSettings:
    """What the acceptor listens on and where it keeps its sessions' state."""

    store_dir: Path
    """FileStore: each session's sequence numbers and sent messages (they survive a restart)."""
    host: str = "127.0.0.1"
    port: int = 9878
    comp_id: str = "RFQGW"
    """The gateway's CompID: SenderCompID(49) of what it sends, TargetCompID(56) of what it accepts."""
    logon_timeout_s: float = 10.0
    """How long a logon waits for the gateway's verdict."""
    sync_store: bool = False
    """fsync every stored message (survives power loss; a process kill is survived either way)."""

    def quickfix_settings(self) -> str:
        """The QuickFIX/J settings: one acceptor template for FIX 4.4, any TargetCompID."""
        return "\n".join(
            [
                "[DEFAULT]",
                "ConnectionType=acceptor",
                f"SocketAcceptAddress={self.host}",
                f"SocketAcceptPort={self.port}",
                f"FileStorePath={self.store_dir}",
                f"FileStoreSync={'Y' if self.sync_store else 'N'}",
                "NonStopSession=Y",
                "StartTime=00:00:00",
                "EndTime=00:00:00",
                "UseDataDictionary=Y",
                "DataDictionary=FIX44.xml",
                "ValidateUserDefinedFields=Y",
                "AllowUnknownMsgFields=N",
                "RejectInvalidMessage=Y",
                "ResetOnLogon=N",
                "ResetOnLogout=N",
                "ResetOnDisconnect=N",
                "PersistMessages=Y",
                "SocketTcpNoDelay=Y",
                "TimeStampPrecision=MILLIS",
                "CheckLatency=Y",
                "MaxLatency=120",
                "",
                "[SESSION]",
                "AcceptorTemplate=Y",
                "BeginString=FIX.4.4",
                f"SenderCompID={self.comp_id}",
                "TargetCompID=*",
                "",
            ]
        )


@dataclass(frozen=True)
class Item:
    """One thing the engine reports: ``kind`` L (logon to check), O (logged on), X (logged out),
    M (application message), E (event), W (error event); ``session`` is QuickFIX/J's session id
    (``FIX.4.4:RFQGW->ALICE``)."""

    kind: str
    session: str
    args: tuple[str, ...]

    @staticmethod
    def parse(text: str) -> Item:
        """``kind SEP session SEP args...`` (see FixBridge.java); the last field may hold anything."""
        kind = text[:1]
        splits = {"L": 3, "M": 2}.get(kind, 1)
        parts = text[2:].split(_SEP, splits)
        return Item(kind, parts[0], tuple(parts[1:]))


class FixEngine:
    """QuickFIX/J behind the bridge; see the module's contract."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._bridge: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, on_items: Callable[[list[Item]], None]) -> None:
        """Listen, and hand what the engine reports to ``on_items`` from a drain thread."""
        jvm.start()
        self.settings.store_dir.mkdir(parents=True, exist_ok=True)
        bridge = jvm.jclass("rfq.fix.FixBridge")(int(self.settings.logon_timeout_s * 1000))
        bridge.start(self.settings.quickfix_settings(), self.settings.host, self.settings.port)
        self._bridge = bridge
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._drain, args=(on_items,), name="rfq-fix-engine", daemon=True
        )
        self._thread.start()

    def stop(self, force: bool = False) -> None:
        """Log every session out (``force``: just disconnect) and stop the drain thread."""
        bridge = self._bridge
        if bridge is not None:
            bridge.stop(force)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._bridge = None

    def send(self, session: str, message: FixMessage) -> bool:
        """Send (and store) ``message`` on ``session``; False when the engine has no such session."""
        bridge = self._bridge
        if bridge is None:
            return False
        return bool(bridge.send(session, message.body()))

    def send_many(self, messages: list[tuple[str, FixMessage]]) -> int:
        """Send (session, message) pairs in order with one call into the JVM; how many failed."""
        bridge = self._bridge
        if bridge is None:
            return len(messages)
        if not messages:
            return 0
        packed = "\x03".join(f"{session}{_SEP}{message.body()}" for session, message in messages)
        return int(bridge.sendAll(packed))

    def answer_logon(self, token: int, user_id: int, refusal: str = "") -> None:
        """Accept the logon ``token`` as ``user_id`` (``refusal`` empty) or refuse it."""
        if self._bridge is not None:
            self._bridge.answerLogon(token, user_id, refusal)

    def is_logged_on(self, session: str) -> bool:
        return self._bridge is not None and bool(self._bridge.isLoggedOn(session))

    def sequence_numbers(self, session: str) -> tuple[int, int] | None:
        """(next sender, next target) MsgSeqNum of a session, from its store."""
        if self._bridge is None:
            return None
        numbers = list(self._bridge.sequenceNumbers(session))
        return (int(numbers[0]), int(numbers[1])) if numbers else None

    def _drain(self, on_items: Callable[[list[Item]], None]) -> None:
        bridge = self._bridge
        try:
            while not self._stop.is_set():
                try:
                    texts = [str(text) for text in bridge.drain(256, 100)]
                except Exception:
                    if self._stop.is_set():
                        break
                    log.exception("FIX engine: drain failed")
                    continue
                if texts:
                    try:
                        on_items([Item.parse(text) for text in texts])
                    except Exception:
                        log.exception("FIX engine: handing items over failed")
        finally:
            # drop every Java reference, then detach: a thread that ends attached stays in the JVM
            del bridge
            with contextlib.suppress(Exception):
                jvm.jclass("java.lang.Thread").detach()
