"""The identity directory: users and roles, hashed tokens, FIX logins, the epoch, mirrored instruments."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from rfq.gateway import identity
from rfq.gateway.identity import Directory, DirectoryError, Instrument, Role, token_digest


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    return Directory(tmp_path / "gateway.sqlite")


def test_users_get_ids_roles_and_unique_names(directory: Directory) -> None:
    ops = directory.add_user("ops", "operator")
    alice = directory.add_user("alice", Role.TRADER, user_id=101)
    nxt = directory.add_user("dealer-a", "dealer", default_dealer=True)
    assert (ops.user_id, alice.user_id, nxt.user_id) == (1, 101, 102)
    assert directory.user(101) == alice
    assert directory.user_by_name("dealer-a") == nxt
    assert directory.users(Role.DEALER) == [nxt]
    assert directory.default_dealers() == [nxt]
    assert directory.names([101, 102, 999]) == {101: "alice", 102: "dealer-a"}
    assert directory.users_by_names(["dealer-a", "alice", "nobody", "alice"]) == {
        "alice": alice,
        "dealer-a": nxt,
    }
    assert directory.users_by_names([]) == {}
    with pytest.raises(DirectoryError):
        directory.add_user("alice", "trader")
    with pytest.raises(DirectoryError):
        directory.add_user("eve", "trader", user_id=101)
    with pytest.raises(DirectoryError):
        directory.add_user("eve", "trader", default_dealer=True)
    with pytest.raises(DirectoryError):
        directory.add_user("eve", "trader", user_id=2**31)
    with pytest.raises(ValueError):
        directory.add_user("eve", "king")


def test_tokens_are_stored_as_hashes_and_shown_once(directory: Directory, tmp_path: Path) -> None:
    alice = directory.add_user("alice", "trader")
    bob = directory.add_user("bob", "trader")
    token = directory.issue_token(alice.user_id, "laptop")
    other = directory.issue_token(bob.user_id)
    assert token != other and token.startswith("rfq_") and len(token) > 40
    assert directory.authenticate(token) == alice
    assert directory.authenticate(other) == bob
    assert directory.authenticate(token + "x") is None
    assert directory.authenticate("") is None
    raw = (
        sqlite3.connect(tmp_path / "gateway.sqlite").execute("SELECT token_sha256 FROM api_tokens").fetchall()
    )
    assert {row[0] for row in raw} == {token_digest(token), token_digest(other)}
    assert token not in (tmp_path / "gateway.sqlite").read_bytes().decode("latin-1")
    assert directory.revoke_token(token)
    assert directory.authenticate(token) is None
    assert not directory.revoke_token(token)
    with pytest.raises(DirectoryError):
        directory.issue_token(999)


def test_revoking_a_users_tokens_revokes_all_of_them_and_no_one_elses(directory: Directory) -> None:
    alice, bob = directory.add_user("alice", "trader"), directory.add_user("bob", "trader")
    alices = [directory.issue_token(alice.user_id, label) for label in ("laptop", "algo")]
    bobs = directory.issue_token(bob.user_id)
    assert all(directory.authenticate(token) == alice for token in alices)  # now remembered
    assert directory.revoke_tokens(alice.user_id) == 2
    assert [directory.authenticate(token) for token in alices] == [None, None]
    assert directory.authenticate(bobs) == bob
    assert directory.revoke_tokens(alice.user_id) == 0
    fresh = directory.issue_token(alice.user_id)
    assert directory.authenticate(fresh) == alice


def test_a_token_revoked_by_another_process_stops_working_within_the_recheck_period(
    directory: Directory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = directory.add_user("alice", "trader")
    token = directory.issue_token(alice.user_id)
    clock = [1_000.0]
    monkeypatch.setattr(identity.time, "monotonic", lambda: clock[0])  # type: ignore[attr-defined]
    assert directory.authenticate(token) == alice  # now remembered
    other = Directory(tmp_path / "gateway.sqlite")  # another process on the file, while the gateway runs
    assert other.revoke_token(token)
    other.close()
    clock[0] += identity.TOKEN_RECHECK_S / 2
    assert directory.authenticate(token) == alice  # from memory: SQLite is not asked yet
    clock[0] += identity.TOKEN_RECHECK_S
    assert directory.authenticate(token) is None
    assert directory.authenticate(token) is None


def test_users_found_by_name_are_remembered_and_users_added_elsewhere_are_found_at_once(
    directory: Directory, tmp_path: Path
) -> None:
    dealer = directory.add_user("dealer-a", "dealer")
    assert directory.users_by_names(["dealer-a", "dealer-b"]) == {"dealer-a": dealer}
    other = Directory(tmp_path / "gateway.sqlite")  # the CLI, while the gateway runs
    added = other.add_user("dealer-b", "dealer")
    other.close()
    assert directory.users_by_names(["dealer-a", "dealer-b"]) == {"dealer-a": dealer, "dealer-b": added}
    statements: list[str] = []
    directory.connection.set_trace_callback(statements.append)
    assert directory.users_by_names(["dealer-b", "dealer-a"]) == {"dealer-a": dealer, "dealer-b": added}
    assert statements == []  # both known: no query


def test_a_token_created_by_another_process_works_at_once(directory: Directory, tmp_path: Path) -> None:
    directory.add_user("alice", "trader")
    other = Directory(tmp_path / "gateway.sqlite")  # the CLI, while the gateway runs
    token = other.issue_token(1)
    other.close()
    assert directory.authenticate(token) is not None


def test_fix_logins_check_salted_passwords(directory: Directory) -> None:
    dealer = directory.add_user("dealer-a", "dealer")
    directory.set_fix_login("DEALERA", dealer.user_id, "s3cret")
    assert directory.fix_login("DEALERA", "s3cret") == dealer
    assert directory.fix_login("DEALERA", "wrong") is None
    assert directory.fix_login("NOBODY", "s3cret") is None
    salt, digest = directory.connection.execute("SELECT salt, password_scrypt FROM fix_logins").fetchone()
    assert len(salt) == 16 and b"s3cret" not in digest


def test_the_epoch_grows_at_every_start_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite"
    first = Directory(path)
    assert first.epoch == 0
    assert [first.next_epoch(), first.next_epoch()] == [1, 2]
    first.close()
    again = Directory(path)
    assert again.next_epoch() == 3
    concurrent = Directory(path)
    assert {again.next_epoch(), concurrent.next_epoch()} == {4, 5}


def test_instruments_mirror_is_replaced_and_keeps_descriptions(directory: Directory) -> None:
    directory.describe("912828YK0", "US Treasury note")
    directory.upsert_instrument(Instrument(1, "912828YK0", 1000, True))
    directory.upsert_instrument(Instrument(2, "037833DX5", 100, True))
    directory.upsert_instrument(Instrument(2, "037833DX5", 100, False))
    assert directory.instruments() == [
        Instrument(1, "912828YK0", 1000, True, "US Treasury note"),
        Instrument(2, "037833DX5", 100, False, ""),
    ]
    directory.replace_instruments([Instrument(1, "912828YK0", 5000, False)])
    assert directory.instruments() == [Instrument(1, "912828YK0", 5000, False, "US Treasury note")]


def test_background_checkpoints_keep_the_log_copy_off_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity, "CHECKPOINT_INTERVAL_S", 0.05)
    path = tmp_path / "gateway.sqlite"
    directory = Directory(path, background_checkpoints=True)
    db = directory.connection
    db.execute("CREATE TABLE filler (k INTEGER PRIMARY KEY, blob BLOB)")
    size_before = path.stat().st_size
    db.execute("BEGIN")
    for k in range(2_000):  # ~8 MB: past SQLite's own 1,000-page checkpoint threshold
        db.execute("INSERT INTO filler VALUES (?, ?)", (k, bytes(4_000)))
    db.execute("COMMIT")
    deadline = time.monotonic() + 10
    while path.stat().st_size < size_before + 8_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size >= size_before + 8_000_000, "the log was never copied into the database"
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    directory.close()
    assert not [t for t in threading.enumerate() if t.name == "rfq-sqlite-checkpoint"]


def test_without_background_checkpoints_sqlite_checkpoints_in_the_commit(tmp_path: Path) -> None:
    directory = Directory(tmp_path / "gateway.sqlite")
    assert directory.connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    assert not [t for t in threading.enumerate() if t.name == "rfq-sqlite-checkpoint"]
    directory.close()
