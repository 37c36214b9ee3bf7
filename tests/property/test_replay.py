"""Determinism, compared as encoded bytes, on random logs.

A log is what Aeron's replicated log hands the service: commands, each at its cluster time, and the
moments the service is handed its due timers (``reference_model.command_logs``: valid and invalid
commands, trades, counters, expiries delivered on time or late, resends, reused correlation ids).
Each machine fires the timers of its own ``InMemoryTimers``. Checked:

- the same log applied to two fresh machines gives byte-identical encoded events (with the same
  audience and duplicate flag) and byte-identical encoded snapshots after every entry;
- a machine restored from the snapshot taken before ANY entry of the log (every record through
  ``encode``/``decode``; its timers re-primed from ``active_expiries()``, restore itself scheduling
  none), then given the rest of the log, gives the same events and the same final snapshot bytes.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from rfq.cluster.domain import InMemoryTimers, StateMachine
from rfq.codecs.rfq_sbe import decode, encode
from tests.property.reference_model import Entry, command_logs, describe

Answer = tuple[str, bool, tuple[bytes, ...]]
"""An entry's result as it leaves the service: audience, duplicate flag, encoded events."""


class Node:
    """A state machine and its timers, as a service replica runs them."""

    def __init__(self, machine: StateMachine | None = None, timers: InMemoryTimers | None = None) -> None:
        self.timers = timers if timers is not None else InMemoryTimers()
        self.machine = machine if machine is not None else StateMachine(self.timers)

    @classmethod
    def restored(cls, frames: list[bytes]) -> Node:
        timers = InMemoryTimers()
        machine = StateMachine.restore([decode(frame) for frame in frames], timers)
        assert timers.pending() == {}, "restore scheduled timers (the consensus module restores them)"
        for rfq_id, deadline in machine.active_expiries():
            timers.schedule(rfq_id, deadline)
        return cls(machine, timers)

    def play(self, entry: Entry) -> Answer:
        if entry.is_tick:
            events: list[Any] = []
            for rfq_id, _deadline in self.timers.pop_due(entry.time_ms):
                events += self.machine.on_timer(rfq_id, entry.time_ms)
            return "BROADCAST", False, tuple(encode(e) for e in events)
        outcome = self.machine.apply(entry.command, entry.time_ms)
        return outcome.audience.name, outcome.duplicate, tuple(encode(e) for e in outcome.events)

    def snapshot(self) -> list[bytes]:
        return [encode(record) for record in self.machine.snapshot()]


def check_replay(log: list[Entry]) -> None:
    first, second = Node(), Node()
    answers: list[Answer] = []
    snapshots = [first.snapshot()]  # snapshots[i]: the state before entry i
    assert second.snapshot() == snapshots[0]
    for index, entry in enumerate(log):
        answer = first.play(entry)
        assert second.play(entry) == answer, f"entry {index}: two fresh machines answer differently"
        answers.append(answer)
        snapshots.append(first.snapshot())
        assert second.snapshot() == snapshots[-1], f"entry {index}: two fresh machines' snapshots differ"

    for cut in range(len(log) + 1):
        node = Node.restored(snapshots[cut])
        assert node.snapshot() == snapshots[cut], f"restored before entry {cut}: not the snapshot it read"
        for index in range(cut, len(log)):
            assert node.play(log[index]) == answers[index], (
                f"restored before entry {cut}: entry {index} differs"
            )
        assert node.snapshot() == snapshots[-1], f"restored before entry {cut}: final snapshot differs"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=command_logs())
def test_replay_is_deterministic_and_a_snapshot_anywhere_plus_the_rest_equals_the_whole(
    log: list[Entry],
) -> None:
    """Two fresh machines agree byte for byte; so does one restored from any point of the log."""
    try:
        check_replay(log)
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n the log:\n{describe(log)}") from failure
