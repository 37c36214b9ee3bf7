"""The idempotency store: keys per user, fingerprints, stored responses, the in-flight mark."""

from __future__ import annotations

import sqlite3

from rfq.gateway.idempotency import IdempotencyStore, StoredResponse, fingerprint


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
