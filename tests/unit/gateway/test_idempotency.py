"""The idempotency store: keys per user, fingerprints, stored responses, the in-flight mark."""

from __future__ import annotations

import asyncio
import sqlite3

from rfq.gateway.idempotency import IdempotencyStore, KeyRecord, StoredResponse, fingerprint


def make() -> IdempotencyStore:
    return IdempotencyStore(sqlite3.connect(":memory:", isolation_level=None))


def test_the_fingerprint_covers_method_path_and_canonical_body() -> None:
    base = fingerprint("POST", "/v1/rfqs", {"a": 1, "b": [1, 2]})
    assert base == fingerprint("post", "/v1/rfqs", {"b": [1, 2], "a": 1})
    assert base != fingerprint("POST", "/v1/rfqs/1/cancel", {"a": 1, "b": [1, 2]})
    assert base != fingerprint("POST", "/v1/rfqs", {"a": 2, "b": [1, 2]})


def test_a_key_remembers_its_command_then_its_response() -> None:
    store = make()
    assert store.get(101, "k") is None
    store.begin(101, "k", "digest", 42, b"frame")
    record = store.get(101, "k")
    assert record is not None and record.response is None
    assert (record.fingerprint, record.correlation_id, record.frame) == ("digest", 42, b"frame")
    first = StoredResponse(201, b'{"id":1}', {"location": "/v1/rfqs/1"})
    store.complete(101, "k", first)
    store.complete(101, "k", StoredResponse(503, b"late", {}))  # the first outcome wins
    record = store.get(101, "k")
    assert record is not None and record.response == first


def test_keys_are_scoped_per_user() -> None:
    store = make()
    store.begin(101, "k", "alice", 1, b"a")
    store.begin(102, "k", "bob", 2, b"b")
    alice, bob = store.get(101, "k"), store.get(102, "k")
    assert alice is not None and bob is not None
    assert (alice.correlation_id, bob.correlation_id) == (1, 2)
    assert store.claim(101, "k") and store.claim(102, "k")
    assert not store.claim(101, "k")
    store.release(101, "k")
    assert store.claim(101, "k")


def test_old_keys_are_purged() -> None:
    store = IdempotencyStore(sqlite3.connect(":memory:", isolation_level=None), ttl_s=-1)
    store.begin(101, "k", "d", 1, b"f")
    assert store.get(101, "k") is None
    assert store.purge() == 1


def test_start_takes_a_new_key_in_one_statement_and_returns_a_taken_keys_record() -> None:
    store = make()
    assert store.start(101, "k", "digest", 42, b"frame") is None
    again = store.start(101, "k", "other", 43, b"other frame")
    assert again is not None and (again.fingerprint, again.correlation_id, again.frame) == (
        "digest",
        42,
        b"frame",
    )
    store.forget(101, "k")
    assert store.get(101, "k") is None
    assert store.start(101, "k", "digest", 44, b"frame") is None


def test_start_takes_over_a_key_past_its_ttl() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    IdempotencyStore(connection).begin(101, "k", "old", 1, b"old")
    store = IdempotencyStore(connection, ttl_s=-1)  # every row is past its TTL
    assert store.start(101, "k", "new", 2, b"new") is None
    (fingerprint_now,) = connection.execute("SELECT fingerprint FROM idempotency").fetchone()
    assert fingerprint_now == "new"


def test_responses_are_seen_at_once_and_written_at_the_end_of_the_loops_turn() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    store = IdempotencyStore(connection)
    first = StoredResponse(201, b"1", {"location": "/v1/rfqs/1"})

    def restarted() -> IdempotencyStore:  # what a new life of the gateway reads from the file
        return IdempotencyStore(connection)

    async def scenario() -> None:
        for n in (1, 2, 3):
            store.start(101, f"k{n}", "d", n, b"f")
        store.complete(101, "k1", first)
        store.complete(101, "k2", StoredResponse(201, b"2", {}))
        store.complete(101, "k1", StoredResponse(503, b"late", {}))  # the first outcome wins
        record = store.get(101, "k1")
        assert record is not None and record.response == first
        unwritten = restarted().get(101, "k1")
        assert unwritten is not None and unwritten.response is None
        await asyncio.sleep(0)  # the turn ends: one transaction writes both
        for key, body in (("k1", b"1"), ("k2", b"2")):
            written = restarted().get(101, key)
            assert written is not None and written.response is not None
            assert written.response.body == body
        store.complete(101, "k3", StoredResponse(201, b"3", {}))
        await asyncio.sleep(0)
        written = restarted().get(101, "k3")
        assert written is not None and written.response is not None and written.response.body == b"3"

    asyncio.run(scenario())


def test_keys_reserved_in_the_same_turn_are_committed_in_one_transaction() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    store = IdempotencyStore(connection)
    store.start(101, "taken", "first", 1, b"first frame")
    statements: list[str] = []
    connection.set_trace_callback(statements.append)

    async def scenario() -> None:
        requests = [
            asyncio.ensure_future(store.reserve(101, key, "d", n, b"f"))
            for n, key in enumerate(("a", "b", "taken", "gone"), start=10)
        ]
        await asyncio.sleep(0)  # each request reaches its reserve in this turn
        requests[3].cancel()  # that client went away before the commit
        new_a, new_b, taken, _ = await asyncio.gather(*requests, return_exceptions=True)
        assert (new_a, new_b) == (None, None)
        assert isinstance(taken, KeyRecord) and (taken.fingerprint, taken.correlation_id) == ("first", 1)
        # a key whose request went away is taken all the same: its retry sends that command
        gone = store.get(101, "gone")
        assert gone is not None and (gone.correlation_id, gone.response) == (13, None)
        alone = await store.reserve(102, "a", "d", 20, b"f")  # a later turn, alone: no BEGIN
        assert alone is None

    asyncio.run(scenario())
    writes = [s.split()[0] for s in statements if s.split()[0] in ("BEGIN", "COMMIT", "INSERT")]
    assert writes == ["BEGIN", "INSERT", "INSERT", "INSERT", "INSERT", "COMMIT", "INSERT"], statements
