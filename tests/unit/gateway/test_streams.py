"""SSE resume logic: event ids, replay after Last-Event-ID, snapshots instead of gaps."""

from __future__ import annotations

import pytest

from rfq.gateway.streams import GapError, StreamLog

ALICE, BOB = 101, 201


def test_ids_carry_the_gateway_life_and_a_gateway_wide_sequence() -> None:
    log = StreamLog(epoch=7)
    a = log.append(ALICE, "rfq_created", "{}")
    b = log.append(BOB, "rfq_invited", "{}")
    assert (a.seq, b.seq) == (1, 2)
    assert log.event_id(b.seq) == "7-2"
    assert log.cursor("7-2") == 2
    assert log.cursor("7-0") == 0


@pytest.mark.parametrize("last_event_id", [None, "", "6-1", "7-99", "garbage", "7-", "-1", "7-1-2", "7--1"])
def test_foreign_future_or_malformed_ids_call_for_a_snapshot(last_event_id: str | None) -> None:
    log = StreamLog(epoch=7)
    log.append(ALICE, "x", "{}")
    assert log.cursor(last_event_id) is None


def test_a_reader_gets_its_own_and_broadcast_entries_in_order_and_nobody_elses() -> None:
    log = StreamLog(epoch=1)
    log.append(ALICE, "a1", "1")
    log.append(None, "all", "2")
    log.append(BOB, "b1", "3")
    log.append(ALICE, "a2", "4")
    assert [e.event for e in log.read(ALICE, 0)] == ["a1", "all", "a2"]
    assert [e.event for e in log.read(BOB, 0)] == ["all", "b1"]
    assert [e.event for e in log.read(ALICE, 2)] == ["a2"]
    assert log.read(ALICE, 4) == []
    assert log.read(999, 0)[0].event == "all"


def test_a_resume_older_than_the_bounded_log_is_a_gap_not_a_silent_loss() -> None:
    log = StreamLog(epoch=1, capacity=3)
    for n in range(5):
        log.append(ALICE, f"e{n}", "{}")
    assert [e.event for e in log.read(ALICE, 2)] == ["e2", "e3", "e4"]
    with pytest.raises(GapError) as gap:
        log.read(ALICE, 1)  # e1 (seq 2) is gone
    assert gap.value.reason == "resume_gap"
    other = log.append(BOB, "b", "{}")
    assert [e.event for e in log.read(BOB, 0)] == ["b"]  # bob lost nothing
    assert other.seq == 6


def test_broadcast_trimming_is_a_gap_for_everyone() -> None:
    log = StreamLog(epoch=1, capacity=2)
    for _ in range(3):
        log.append(None, "instrument_added", "{}")
    with pytest.raises(GapError):
        log.read(ALICE, 0)


def test_barriers_send_readers_behind_them_to_a_snapshot() -> None:
    log = StreamLog(epoch=1)
    log.append(ALICE, "a", "{}")
    log.append(BOB, "b", "{}")
    log.barrier(ALICE)
    with pytest.raises(GapError) as gap:
        log.read(ALICE, 2)
    assert gap.value.reason == "resync"
    assert log.read(BOB, 2) == []
    assert log.read(ALICE, log.seq) == []  # a snapshot taken now is past the barrier
    log.barrier(None)
    with pytest.raises(GapError):
        log.read(BOB, 2)


def test_waiters_wake_for_their_user_and_for_everyone_only() -> None:
    log = StreamLog(epoch=1)
    alice, bob = log.subscribe(ALICE), log.subscribe(BOB)
    log.append(ALICE, "a", "{}")
    assert alice.is_set() and not bob.is_set()
    alice.clear()
    log.append(None, "all", "{}")
    assert alice.is_set() and bob.is_set()
    assert log.subscribers == 2
    log.unsubscribe(ALICE, alice)
    log.unsubscribe(BOB, bob)
    assert log.subscribers == 0
