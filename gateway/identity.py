"""The identity directory: who is who at the edge, in one SQLite file per gateway.

The cluster knows users and instruments only by integer ids; a gateway translates. This directory
holds what only gateways know — users (id, name, role), API tokens, FIX logins, instrument
descriptions — and a mirror of what the cluster decides (instrument id ↔ CUSIP, minimum quantity,
enabled), which is replaced from the cluster's own answer at every start (``replace_instruments``),
never trusted as it was left.

It also keeps the gateway's **epoch**: a counter incremented and committed at every start
(:meth:`Directory.next_epoch`), the middle part of the gateway's correlation ids, so that a gateway
restarted with the same gateway id never reuses an id of its earlier life (see
``rfq.gateway.command_client.CorrelationIds``). Two processes sharing one file still get distinct
epochs (the increment is one immediate transaction).

Secrets are never stored: an API token is a random ``secrets.token_urlsafe`` string shown once at
creation and kept as its SHA-256 (a 256-bit random token needs no salt nor slow hash); a FIX password
is kept as salted scrypt.

Threading: a :class:`Directory` wraps one ``sqlite3`` connection and must be used from the thread that
opened it (the gateway's event loop). Other processes (the ``rfq gateway users`` CLI) may write the same
file meanwhile: the database runs in WAL mode, and lookups read the file each time, so a token created
by the CLI works at once.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TOKEN_PREFIX = "rfq_"
MAX_USER_ID = 2**31 - 1
MAX_KNOWN_USERS = 100_000
"""Users :meth:`Directory.users_by_names` remembers at most (then it starts afresh)."""
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
"""scrypt's interactive-login parameters (RFC 7914 §2): ~50 ms and 16 MiB per check."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    user_id INTEGER PRIMARY KEY CHECK (user_id BETWEEN 1 AND 2147483647),
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    role TEXT NOT NULL CHECK (role IN ('trader', 'dealer', 'operator')),
    default_dealer INTEGER NOT NULL DEFAULT 0 CHECK (default_dealer IN (0, 1)),
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_sha256 TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    label TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fix_logins (
    sender_comp_id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    salt BLOB NOT NULL,
    password_scrypt BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS instruments (
    instrument_id INTEGER PRIMARY KEY,
    cusip TEXT NOT NULL UNIQUE,
    min_quantity INTEGER NOT NULL,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
);
CREATE TABLE IF NOT EXISTS instrument_descriptions (
    cusip TEXT PRIMARY KEY,
    description TEXT NOT NULL
);
"""


class Role(enum.StrEnum):
    """What a user may do: traders request, dealers quote, operators manage instruments."""

    TRADER = "trader"
    DEALER = "dealer"
    OPERATOR = "operator"


@dataclass(frozen=True)
class User:
    """A person or program known to the gateways; ``user_id`` is what the cluster sees."""

    user_id: int
    name: str
    role: Role
    default_dealer: bool = False
    """Asked by an RFQ that names no dealers (dealers only)."""


@dataclass(frozen=True)
class Instrument:
    """An instrument as the cluster last said, with the gateway's own description."""

    instrument_id: int
    cusip: str
    min_quantity: int
    enabled: bool
    description: str = ""


@dataclass(frozen=True)
class FixCredentials:
    """A FIX login's user and salted scrypt digest."""

    user: User
    salt: bytes
    digest: bytes

    def check(self, password: str) -> bool:
        """Whether ``password`` is this login's (constant-time comparison; thread-safe)."""
        return hmac.compare_digest(hashlib.scrypt(password.encode(), salt=self.salt, **_SCRYPT), self.digest)


CHECKPOINT_INTERVAL_S = 1.0
"""How often a gateway's directory copies its write-ahead log into the database (see Directory)."""
TOKEN_RECHECK_S = 0.25
"""How stale :meth:`Directory.authenticate`'s memory of tokens may be when another process revokes one."""


class DirectoryError(ValueError):
    """A directory change that cannot be made (a name or login already taken, an unknown user...)."""


def token_digest(token: str) -> str:
    """How a token is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


class Directory:
    """The directory in ``path`` (created on first use); ``":memory:"`` for a throwaway one.

    ``background_checkpoints``: for a gateway, whose event loop writes through this connection (and
    the stores that share it) at every command. SQLite otherwise copies its write-ahead log into the
    database, with an fsync, inside whichever commit fills the log past 1,000 pages: measured here,
    20-26 ms once every ~400 idempotency rows, a stall of the whole event loop. With it, commits only
    append to the log, and a thread of this object checkpoints every :data:`CHECKPOINT_INTERVAL_S`
    through a connection of its own (PASSIVE: it never blocks the writer)."""

    def __init__(self, path: Path | str, background_checkpoints: bool = False) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        self._known: dict[str, User] = {}
        """Users found by :meth:`users_by_names`, by name."""
        self._tokens: dict[str, User] = {}
        """Users found by :meth:`authenticate`, by token digest: emptied by every write through this
        object, and when :meth:`authenticate` sees that another connection changed the file."""
        self._data_version = -1
        self._tokens_checked = -math.inf
        self._db.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._checkpointer: _Checkpointer | None = None
        if background_checkpoints and self.path != ":memory:":
            self._db.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = _Checkpointer(self.path)
        with self.transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', 0)")

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection, for stores that keep their tables in the same file (idempotency)."""
        return self._db

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction (writers queue behind each other, across processes too)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._tokens.clear()

    # --- epoch ----------------------------------------------------------------------------------
    def next_epoch(self) -> int:
        """Increment, commit and return the gateway's epoch: never the same number twice."""
        with self.transaction() as db:
            db.execute("UPDATE meta SET value = value + 1 WHERE key = 'epoch'")
            (epoch,) = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        return int(epoch)

    @property
    def epoch(self) -> int:
        """The last epoch handed out (0 before the first start)."""
        (epoch,) = self._db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        return int(epoch)

    # --- users ----------------------------------------------------------------------------------
    def add_user(
        self, name: str, role: Role | str, user_id: int | None = None, default_dealer: bool = False
    ) -> User:
        """Add a user (the next free id unless ``user_id``); raises :class:`DirectoryError` if taken."""
        role = Role(role)
        if default_dealer and role is not Role.DEALER:
            raise DirectoryError("only a dealer can be a default dealer")
        if user_id is not None and not 1 <= user_id <= MAX_USER_ID:
            raise DirectoryError(f"user id {user_id} is not in 1..{MAX_USER_ID}")
        try:
            with self.transaction() as db:
                if user_id is None:
                    (top,) = db.execute("SELECT coalesce(max(user_id), 0) FROM users").fetchone()
                    user_id = int(top) + 1
                db.execute(
                    "INSERT INTO users (user_id, name, role, default_dealer, created_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (user_id, name, role.value, int(default_dealer), _now_ms()),
                )
        except sqlite3.IntegrityError as error:
            raise DirectoryError(f"cannot add user {name!r} ({user_id}): {error}") from error
        return User(user_id, name, role, default_dealer)

    def user(self, user_id: int) -> User | None:
        row = self._db.execute(
            "SELECT user_id, name, role, default_dealer FROM users WHERE user_id = ?", (user_id,)
        ).fetchone()
        return None if row is None else _user(row)

    def user_by_name(self, name: str) -> User | None:
        row = self._db.execute(
            "SELECT user_id, name, role, default_dealer FROM users WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else _user(row)

    def users_by_names(self, names: Iterable[str]) -> dict[str, User]:
        """The users of the given names that the directory knows, by name (what every RFQ asks, for up
        to ten dealers; each query is a GIL hand-off on a busy event loop).

        A user, once added, is never changed nor removed (no method does either), so a user found is
        remembered and not asked for again; the names not found are asked for each time, in one query,
        so that a user added meanwhile (by the CLI too) is found at once."""
        wanted = set(names)
        found = {name: self._known[name] for name in wanted & self._known.keys()}
        missing = sorted(wanted - found.keys())
        if missing:
            marks = ",".join("?" * len(missing))
            rows = self._db.execute(
                f"SELECT user_id, name, role, default_dealer FROM users WHERE name IN ({marks})", missing
            ).fetchall()
            if len(self._known) > MAX_KNOWN_USERS:
                self._known.clear()
            for user in map(_user, rows):
                found[user.name] = self._known[user.name] = user
        return found

    def users(self, role: Role | None = None) -> list[User]:
        """Every user (of ``role``), by id."""
        query = "SELECT user_id, name, role, default_dealer FROM users"
        rows = (
            self._db.execute(query + " ORDER BY user_id")
            if role is None
            else self._db.execute(query + " WHERE role = ? ORDER BY user_id", (Role(role).value,))
        )
        return [_user(row) for row in rows]

    def default_dealers(self) -> list[User]:
        """The dealers asked by an RFQ that names none, by id."""
        rows = self._db.execute(
            "SELECT user_id, name, role, default_dealer FROM users"
            " WHERE role = 'dealer' AND default_dealer = 1 ORDER BY user_id"
        )
        return [_user(row) for row in rows]

    def names(self, user_ids: Iterable[int]) -> dict[int, str]:
        """Names of the given user ids that the directory knows."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT user_id, name FROM users WHERE user_id IN ({marks})", ids)
        return {int(user_id): str(name) for user_id, name in rows}

    # --- API tokens -----------------------------------------------------------------------------
    def issue_token(self, user_id: int, label: str = "") -> str:
        """A new API token for ``user_id``: returned once, stored only as its hash."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO api_tokens (token_sha256, user_id, label, created_ms) VALUES (?, ?, ?, ?)",
                    (token_digest(token), user_id, label, _now_ms()),
                )
        except sqlite3.IntegrityError as error:
            raise DirectoryError(f"no user {user_id}") from error
        return token

    def authenticate(self, token: str) -> User | None:
        """The user a bearer token belongs to, or None for an unknown or revoked token.

        Called on every request, so a known token is answered from memory: a token revoked through
        this object stops working at once, one revoked by another process on the same file (``rfq
        gateway users revoke``, another gateway) within :data:`TOKEN_RECHECK_S`, the longest this waits
        before asking SQLite whether another connection changed the file (``PRAGMA data_version``).
        Each statement gives up the GIL, which costs milliseconds on a busy gateway."""
        now = time.monotonic()
        if now - self._tokens_checked >= TOKEN_RECHECK_S:
            self._tokens_checked = now
            (version,) = self._db.execute("PRAGMA data_version").fetchone()
            if version != self._data_version:
                self._data_version = version
                self._tokens.clear()
        digest = token_digest(token)
        user = self._tokens.get(digest)
        if user is not None:
            return user
        row = self._db.execute(
            "SELECT u.user_id, u.name, u.role, u.default_dealer FROM api_tokens t"
            " JOIN users u ON u.user_id = t.user_id WHERE t.token_sha256 = ?",
            (digest,),
        ).fetchone()
        if row is None:
            return None
        user = self._tokens[digest] = _user(row)
        return user

    def revoke_token(self, token: str) -> bool:
        """Forget a token; True if it existed."""
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM api_tokens WHERE token_sha256 = ?", (token_digest(token),))
        return cursor.rowcount > 0

    def revoke_tokens(self, user_id: int) -> int:
        """Forget every API token of a user (one leaked, or the user left); return how many.

        Only hashes are kept, so a lost token cannot be named: revoke them all, then issue a new one.
        This directory refuses them at once, other processes on the file within
        :data:`TOKEN_RECHECK_S`."""
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM api_tokens WHERE user_id = ?", (user_id,))
        return int(cursor.rowcount)

    # --- FIX logins (used by the FIX gateway) ---------------------------------------------------
    def set_fix_login(self, sender_comp_id: str, user_id: int, password: str) -> None:
        """Bind a FIX SenderCompID to a user with a password (replacing an earlier one)."""
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT OR REPLACE INTO fix_logins (sender_comp_id, user_id, salt, password_scrypt)"
                    " VALUES (?, ?, ?, ?)",
                    (sender_comp_id, user_id, salt, digest),
                )
        except sqlite3.IntegrityError as error:
            raise DirectoryError(f"no user {user_id}") from error

    def fix_login(self, sender_comp_id: str, password: str) -> User | None:
        """The user a FIX logon names, if its password matches; None otherwise."""
        credentials = self.fix_credentials(sender_comp_id)
        if credentials is None or not credentials.check(password):
            return None
        return credentials.user

    def fix_credentials(self, sender_comp_id: str) -> FixCredentials | None:
        """What checking a FIX logon needs, read now (cheap): :meth:`FixCredentials.check` is the slow
        part (scrypt, ~50 ms) and may run on another thread, without the directory."""
        row = self._db.execute(
            "SELECT u.user_id, u.name, u.role, u.default_dealer, f.salt, f.password_scrypt"
            " FROM fix_logins f JOIN users u ON u.user_id = f.user_id WHERE f.sender_comp_id = ?",
            (sender_comp_id,),
        ).fetchone()
        if row is None:
            return None
        return FixCredentials(_user(row[:4]), bytes(row[4]), bytes(row[5]))

    def fix_user_ids(self) -> set[int]:
        """The users that have at least one FIX login."""
        return {int(user_id) for (user_id,) in self._db.execute("SELECT DISTINCT user_id FROM fix_logins")}

    # --- instruments (mirrored from the cluster) ------------------------------------------------
    def replace_instruments(self, instruments: Iterable[Instrument]) -> None:
        """Make the mirror exactly ``instruments`` (the cluster's answer); descriptions are kept."""
        with self.transaction() as db:
            db.execute("DELETE FROM instruments")
            db.executemany(
                "INSERT INTO instruments (instrument_id, cusip, min_quantity, enabled) VALUES (?, ?, ?, ?)",
                [(i.instrument_id, i.cusip, i.min_quantity, int(i.enabled)) for i in instruments],
            )

    def upsert_instrument(self, instrument: Instrument) -> None:
        """Record one instrument the cluster added or changed."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO instruments (instrument_id, cusip, min_quantity, enabled) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (instrument_id) DO UPDATE SET cusip = excluded.cusip,"
                " min_quantity = excluded.min_quantity, enabled = excluded.enabled",
                (
                    instrument.instrument_id,
                    instrument.cusip,
                    instrument.min_quantity,
                    int(instrument.enabled),
                ),
            )

    def describe(self, cusip: str, description: str) -> None:
        """The gateway's own words for an instrument (the cluster keeps none)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO instrument_descriptions (cusip, description) VALUES (?, ?)",
                (cusip, description),
            )

    def descriptions(self) -> dict[str, str]:
        """CUSIP → description."""
        rows = self._db.execute("SELECT cusip, description FROM instrument_descriptions")
        return {str(cusip): str(text) for cusip, text in rows}

    def instruments(self) -> list[Instrument]:
        """The mirrored instruments, by id, with their descriptions."""
        rows = self._db.execute(
            "SELECT i.instrument_id, i.cusip, i.min_quantity, i.enabled, coalesce(d.description, '')"
            " FROM instruments i LEFT JOIN instrument_descriptions d ON d.cusip = i.cusip"
            " ORDER BY i.instrument_id"
        )
        return [Instrument(int(a), str(b), int(c), bool(d), str(e)) for a, b, c, d, e in rows]


def _user(row: tuple[object, ...]) -> User:
    user_id, name, role, default_dealer = row
    assert isinstance(user_id, int) and isinstance(name, str) and isinstance(role, str)
    return User(user_id, name, Role(role), bool(default_dealer))


class _Checkpointer:
    """A thread that checkpoints the WAL of the database at ``path`` every CHECKPOINT_INTERVAL_S."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rfq-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, timeout=10.0, check_same_thread=False)
        try:
            while not self._stop.wait(CHECKPOINT_INTERVAL_S):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as error:  # the next round tries again
                    log.warning("directory %s: checkpoint failed: %s", self._path, error)
        finally:
            db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30.0)
