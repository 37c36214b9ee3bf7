"""Determinism and exactly-once, on random command logs, compared as encoded bytes.

A log is what Aeron's replicated log gives a service: commands and timer firings, each with its
cluster time. Hypothesis builds one (valid and invalid commands, time passing, timers firing late or on
time) by running it on a first instance, then checks:
- the same log on a fresh instance gives byte-identical encoded outcomes and snapshots;
- a snapshot taken anywhere (hypothesis picks where), restored from its encoded frames, plus the rest
  of the log gives the same outcomes and the same final snapshot as the full replay;
- the log with duplicates (same correlation id) inserted anywhere gives the original outcome to each
  duplicate, changes nothing, and ends in the same snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfq.cluster.domain import InMemoryTimers, Outcome, StateMachine
from rfq.codecs.rfq_sbe import (
    AcceptRfq,
    AddInstrument,
    BooleanType,
    CancelRfq,
    CounterRfq,
    CreateRfq,
    EnableInstrument,
    QuoteRfq,
    RejectRfq,
    Side,
    decode,
    encode,
)

CUSIPS = ["037833100", "38259P508", "594918104", "037833101"]
USERS = [1, 2, 3, 4, 0]
START_MS = 1_700_000_000_000
CAPACITY = 10_000


@dataclass(frozen=True)
class Entry:
    """One log entry: a command, or the expiry timer of an RFQ firing; at a cluster time."""

    time_ms: int
    command: Any = None
    timer_id: int | None = None


Answer = tuple[str, bool, tuple[bytes, ...]]
"""An entry's result as it leaves the service: audience, duplicate flag, encoded events."""


def answer_of(result: Outcome | tuple[Any, ...]) -> Answer:
    if isinstance(result, Outcome):
        return result.audience.name, result.duplicate, tuple(encode(e) for e in result.events)
    return "BROADCAST", False, tuple(encode(e) for e in result)


def play(machine: StateMachine, entry: Entry) -> Answer:
    if entry.timer_id is not None:
        return answer_of(machine.on_timer(entry.timer_id, entry.time_ms))
    return answer_of(machine.apply(entry.command, entry.time_ms))


def snapshot_bytes(machine: StateMachine) -> list[bytes]:
    return [encode(record) for record in machine.snapshot()]


@st.composite
def command_logs(draw: Any) -> list[Entry]:
    """A log built by running it: each command is drawn against the state it will meet."""
    timers = InMemoryTimers()
    machine = StateMachine(timers, CAPACITY)
    now = START_MS
    log: list[Entry] = []

    def run(command: Any) -> None:
        log.append(Entry(now, command=command))
        machine.apply(command, now)

    run(
        AddInstrument(
            correlation_id=0, user_id=9, min_quantity=100, enabled=BooleanType.TRUE, cusip=CUSIPS[0]
        )
    )
    for cid in range(1, draw(st.integers(1, 60)) + 1):
        kind = draw(
            st.sampled_from(
                ["create"] * 4
                + ["quote"] * 3
                + ["counter"] * 3
                + ["accept", "reject", "cancel", "admin", "time"]
            )
        )
        user = draw(st.sampled_from(USERS))
        rfq_id = draw(st.integers(0, machine.rfqs.next_rfq_id))
        active = [rfq for rfq in machine.rfqs]
        if active and draw(st.booleans()):
            rfq = draw(st.sampled_from(active))
            rfq_id = rfq.rfq_id
            parties = [rfq.requester_user_id, rfq.responder_user_id or user]
            user = draw(st.sampled_from([*parties, user]))
        price = draw(st.sampled_from([100 * 10**8, 99 * 10**8 + cid, 1, 0]))
        if kind == "create":
            run(
                CreateRfq(
                    correlation_id=cid,
                    user_id=user,
                    instrument_id=draw(st.sampled_from([1, 1, 2, 0])),
                    side=draw(st.sampled_from([Side.BUY, Side.SELL])),
                    quantity=draw(st.sampled_from([100, 5_000, 99, 0])),
                    expire_time_ms=now + draw(st.sampled_from([1, 2_000, 30_000, 0])),
                    cl_ord_id=f"c{cid}",
                )
            )
        elif kind == "quote":
            run(QuoteRfq(correlation_id=cid, user_id=user, rfq_id=rfq_id, price=price))
        elif kind == "counter":
            run(CounterRfq(correlation_id=cid, user_id=user, rfq_id=rfq_id, price=price))
        elif kind in ("accept", "reject", "cancel"):
            command_type = {"accept": AcceptRfq, "reject": RejectRfq, "cancel": CancelRfq}[kind]
            run(command_type(correlation_id=cid, user_id=user, rfq_id=rfq_id))
        elif kind == "admin":
            enabled = draw(st.sampled_from([BooleanType.TRUE, BooleanType.FALSE]))
            if draw(st.booleans()):
                run(
                    AddInstrument(
                        correlation_id=cid,
                        user_id=9,
                        min_quantity=0,
                        enabled=enabled,
                        cusip=draw(st.sampled_from(CUSIPS)),
                    )
                )
            else:
                run(
                    EnableInstrument(
                        correlation_id=cid, user_id=9, instrument_id=draw(st.integers(1, 3)), enabled=enabled
                    )
                )
        else:
            now += draw(st.sampled_from([1, 1_000, 5_000, 40_000]))
            if draw(st.booleans()):  # the timer events may come later than the deadline, after commands
                for due_id, _deadline in timers.pop_due(now):
                    log.append(Entry(now, timer_id=due_id))
                    machine.on_timer(due_id, now)
    return log


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(log=command_logs(), data=st.data())
def test_replay_is_deterministic_and_a_snapshot_plus_the_rest_equals_the_whole(
    log: list[Entry], data: Any
) -> None:
    first, second = StateMachine(InMemoryTimers(), CAPACITY), StateMachine(InMemoryTimers(), CAPACITY)
    cut = data.draw(st.integers(0, len(log)), label="snapshot after entry")
    answers, snapshot_at_cut = [], None
    for index, entry in enumerate(log):
        if index == cut:
            snapshot_at_cut = snapshot_bytes(first)
        answer = play(first, entry)
        assert play(second, entry) == answer
        answers.append(answer)
    final = snapshot_bytes(first)
    assert snapshot_bytes(second) == final
    if snapshot_at_cut is None:
        snapshot_at_cut = final

    restarted = StateMachine.restore([decode(frame) for frame in snapshot_at_cut], InMemoryTimers(), CAPACITY)
    assert snapshot_bytes(restarted) == snapshot_at_cut
    assert [play(restarted, entry) for entry in log[cut:]] == answers[cut:]
    assert snapshot_bytes(restarted) == final


@PROPERTY
@given(log=command_logs(), data=st.data())
def test_duplicates_anywhere_change_nothing_and_get_the_original_outcome(log: list[Entry], data: Any) -> None:
    reference = StateMachine(InMemoryTimers(), CAPACITY)
    answers = [play(reference, entry) for entry in log]
    commands = [i for i, entry in enumerate(log) if entry.command is not None]
    # (position in the log, index of the earlier command resent there)
    resends = data.draw(
        st.lists(st.integers(0, len(log) - 1).flatmap(lambda at: st.tuples(st.just(at), st.integers(0, at))))
    )
    resends_at: dict[int, list[int]] = {}
    for at, original in resends:
        candidates = [i for i in commands if i <= original]
        if candidates:
            resends_at.setdefault(at, []).append(candidates[-1])

    machine = StateMachine(InMemoryTimers(), CAPACITY)
    for index, entry in enumerate(log):
        assert play(machine, entry) == answers[index]
        for original in resends_at.get(index, []):
            before = snapshot_bytes(machine)
            again = machine.apply(log[original].command, entry.time_ms + 1)
            assert again.duplicate
            assert again.audience.name == "SENDER"
            assert tuple(encode(e) for e in again.events) == answers[original][2]
            assert snapshot_bytes(machine) == before
    assert snapshot_bytes(machine) == snapshot_bytes(reference)
