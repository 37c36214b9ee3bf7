"""Idempotency keys: one request's one outcome, however often a client asks (IETF httpapi draft).

Why: over HTTP a client cannot tell a lost request from a lost answer, nor a slow cluster (an election)
from a dead one. With an ``Idempotency-Key`` it simply asks again and gets the one true outcome:

- same key, same request → the stored response (or, while the command is still pending in the
  cluster client, the wait for its outcome goes on);
- same key, another request (method, path or body) → 422;
- same key while the first request is still being answered → 409;
- keys are scoped per user: one user's key never touches another's request.

The store keeps, per (user, key): a fingerprint of the request, the correlation id the command was
given and its encoded frame, then the response once the outcome is known. The frame is what lets a
*restarted* gateway resend the very same command under the very same correlation id, so that the
cluster answers with the original outcome instead of applying it twice. Rows live in SQLite beside the
identity directory and are purged after ``ttl_s``.

What each request costs (every statement hands the GIL over, a few ms on a busy process): a new key is
one ``INSERT`` (:meth:`IdempotencyStore.start`), committed before the command is sent; the keys of
the requests that reach that point in the same turn of the event loop are committed together
(:meth:`IdempotencyStore.reserve`: a group commit, so that a gateway that falls behind pays less per
request, not more). The response is kept in memory at once and written with the others of the same
turn, in one transaction (:meth:`IdempotencyStore.complete`, :meth:`IdempotencyStore.flush`). A
response lost to a crash before its write is no loss: the retry finds the command without one,
resends the frame under its correlation id, and the cluster answers it with the original outcome.
So is a key whose request went away before its command was sent: the retry sends that frame.

Single-threaded: the gateway's event loop only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DEFAULT_TTL_S = 24 * 3600.0
MAX_KEY_LENGTH = 255

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    user_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    correlation_id INTEGER NOT NULL,
    frame BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    status INTEGER,
    body BLOB,
    headers TEXT,
    PRIMARY KEY (user_id, key)
)
"""

_COMPLETE = (
    "UPDATE idempotency SET status = ?, body = ?, headers = ? WHERE user_id = ? AND key = ?"
    " AND status IS NULL"
)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class KeyRecord:
    """What a key stands for."""

    fingerprint: str
    correlation_id: int
    frame: bytes
    response: StoredResponse | None
    """None while the outcome is unknown (the command may still be pending)."""


def fingerprint(method: str, path: str, body: object) -> str:
    """A digest of the request: method, path and the body as canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


class IdempotencyStore:
    """Keys of every user of one gateway, in the directory's SQLite file (or ``":memory:"``)."""

    def __init__(self, connection: sqlite3.Connection, ttl_s: float = DEFAULT_TTL_S) -> None:
        self._db = connection
        self._ttl_ms = int(ttl_s * 1000)
        self._db.execute(_SCHEMA)
        self._in_flight: set[tuple[int, str]] = set()
        self._unwritten: dict[tuple[int, str], StoredResponse] = {}
        """Responses known but not written yet (:meth:`flush`); the first one per key wins."""
        self._reserving: list[tuple[tuple[int, str, str, int, bytes], asyncio.Future[KeyRecord | None]]] = []
        """Keys :meth:`reserve` will commit at the end of this turn of the event loop."""

    def get(self, user_id: int, key: str) -> KeyRecord | None:
        row = self._db.execute(
            "SELECT fingerprint, correlation_id, frame, status, body, headers FROM idempotency"
            " WHERE user_id = ? AND key = ? AND created_ms > ?",
            (user_id, key, _now_ms() - self._ttl_ms),
        ).fetchone()
        if row is None:
            return None
        digest, correlation_id, frame, status, body, headers = row
        response = self._unwritten.get((user_id, key))
        if status is not None:
            response = StoredResponse(int(status), bytes(body), json.loads(headers or "{}"))
        return KeyRecord(str(digest), int(correlation_id), bytes(frame), response)

    def start(
        self, user_id: int, key: str, digest: str, correlation_id: int, frame: bytes
    ) -> KeyRecord | None:
        """Make a new ``key`` stand for the command ``frame`` (id ``correlation_id``) and return None;
        or, when the key already stands for a request, change nothing and return its record.

        One statement for a new key, the usual case (a ``get`` then a ``begin`` would be two)."""
        inserted = self._db.execute(
            "INSERT INTO idempotency (user_id, key, fingerprint, correlation_id, frame, created_ms)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, key) DO NOTHING",
            (user_id, key, digest, correlation_id, frame, _now_ms()),
        ).rowcount
        if inserted:
            return None
        record = self.get(user_id, key)
        if record is None:  # the row there is past its TTL: the key is free again
            self.begin(user_id, key, digest, correlation_id, frame)
        return record

    async def reserve(
        self, user_id: int, key: str, digest: str, correlation_id: int, frame: bytes
    ) -> KeyRecord | None:
        """:meth:`start`, committed together with the other keys reserved in the same turn of the event
        loop (one transaction at the end of the turn); returns once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[KeyRecord | None] = loop.create_future()
        self._reserving.append(((user_id, key, digest, correlation_id, frame), future))
        if len(self._reserving) == 1:
            loop.call_soon(self._commit_reserved)
        return await future

    def _commit_reserved(self) -> None:
        batch, self._reserving = self._reserving, []
        try:
            with self._transaction(len(batch)):
                records = [self.start(*row) for row, _ in batch]
        except Exception as error:  # nothing was committed: every request of the batch fails
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), record in zip(batch, records, strict=True):
            if not future.done():  # a request that went away leaves its key taken: see the module
                future.set_result(record)

    def begin(self, user_id: int, key: str, digest: str, correlation_id: int, frame: bytes) -> None:
        """Remember that ``key`` now stands for the command ``frame`` (id ``correlation_id``)."""
        self._db.execute(
            "INSERT OR REPLACE INTO idempotency"
            " (user_id, key, fingerprint, correlation_id, frame, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, key, digest, correlation_id, frame, _now_ms()),
        )

    def forget(self, user_id: int, key: str) -> None:
        """Free ``key`` again: its command was never sent (no cluster session)."""
        self._unwritten.pop((user_id, key), None)
        self._db.execute("DELETE FROM idempotency WHERE user_id = ? AND key = ?", (user_id, key))

    def complete(self, user_id: int, key: str, response: StoredResponse) -> None:
        """Store the response to replay for ``key`` (kept once written: the first outcome wins).

        Seen by :meth:`get` at once; written by :meth:`flush`, which this schedules for the end of the
        event loop's turn (or runs now, without a running loop)."""
        first = not self._unwritten
        self._unwritten.setdefault((user_id, key), response)
        if not first:
            return
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:
            self.flush()

    def flush(self) -> None:
        """Write the responses :meth:`complete` kept, in one transaction. Idempotent. A failed write
        loses them from memory too: harmless (the module's docstring says why)."""
        unwritten, self._unwritten = self._unwritten, {}
        rows = [(r.status, r.body, json.dumps(r.headers), user, key) for (user, key), r in unwritten.items()]
        if rows:
            with self._transaction(len(rows)):
                self._db.executemany(_COMPLETE, rows)

    def purge(self) -> int:
        """Forget keys older than the TTL; return how many."""
        cursor = self._db.execute(
            "DELETE FROM idempotency WHERE created_ms <= ?", (_now_ms() - self._ttl_ms,)
        )
        return cursor.rowcount

    @contextmanager
    def _transaction(self, writes: int) -> Iterator[None]:
        """One transaction around ``writes`` writes; a lone write is its own (no BEGIN to pay for)."""
        if writes <= 1:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- requests being answered right now (this process only) ----------------------------------
    def claim(self, user_id: int, key: str) -> bool:
        """Mark ``key`` as being answered; False if a request with it is being answered already."""
        if (user_id, key) in self._in_flight:
            return False
        self._in_flight.add((user_id, key))
        return True

    def release(self, user_id: int, key: str) -> None:
        self._in_flight.discard((user_id, key))


def _now_ms() -> int:
    return int(time.time() * 1000)
